"""Make the README's contact sheet: one photo stylized with every gallery style, on the shared VGG-16.

    python styles/contact_sheet.py PHOTO --weights ../shared/weights/vgg16-caffe-features.pth -o docs/contact_sheet.jpg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw
from torchvision.utils import make_grid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from nst_core import Settings, stylize  # noqa: E402
from nst_core.gallery import list_styles  # noqa: E402
from nst_core.images import decode_image, resize_longest, to_pil, to_tensor  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--iterations", type=int, default=80)
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("-o", "--output", default="docs/contact_sheet.jpg")
    args = parser.parse_args()
    photo = decode_image(args.photo)
    settings = Settings(size=args.size, iterations=args.iterations, weights=args.weights)
    tiles = [("photo", resize_longest(photo, args.size))]
    for style in (s for s in list_styles() if s.kind == "procedural"):
        print(f"stylizing with {style.name}", file=sys.stderr)
        tiles.append((style.title, stylize(photo, style.path, settings)))
    styles_by_title = {s.title: s for s in list_styles()}
    labelled = []
    for title, image in tiles:
        tile = image.copy()
        if title in styles_by_title:  # the painting itself, small, in the corner
            painting = Image.open(styles_by_title[title].path).convert("RGB")
            tile.paste(painting.resize((args.size // 3, args.size // 3)), (0, 0))
        draw = ImageDraw.Draw(tile)
        draw.rectangle((0, tile.height - 16, tile.width, tile.height), fill="white")
        draw.text((4, tile.height - 14), title, fill="black")
        labelled.append(to_tensor(tile)[0])
    sheet = to_pil(make_grid(labelled, nrow=args.columns, padding=4, pad_value=1.0).unsqueeze(0))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output, quality=88)
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
