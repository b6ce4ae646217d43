"""Pictures grown from noise by the engine itself: content from one layer, style from a set of layers.

`reconstruct` is Gatys et al.'s figure 1 (top): the photo rebuilt from noise with only the content loss at
relu1_1 ... relu5_1. `texture` is figure 1 (bottom): the painting's texture from noise with only the style
loss on growing sets of layers. `shuffle` cuts the painting into tiles, shows that its Gram matrices barely
change while its deep content changes completely, and grows a texture from each.

Every picture comes from `nst_core.engine.stylize_iter` with one of the two weights at zero and init="noise";
several runs advance one step each in turn, so all panels fill in together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from PIL import Image

from ..backbones import VGGFeatures
from ..config import Settings, default_weights
from ..engine import plan_scales, resolve_backbone, stylize_iter
from ..errors import SettingsError
from ..features import FeatureExtractor, pick_device
from ..images import ImageSource, decode_image, resize_to, to_pil
from . import render
from .events import Sheet, ViewEvent, round_robin
from .measures import CONTENT_LAYER, STYLE_LAYERS, STYLE_LOSS, Yardstick, pixel_rmse, psnr

SHUFFLE_COLOURS = {"gram": (234, 88, 12), "content": (37, 99, 235)}  # the Stylize tab's style/content colours


def grown(size: int, steps: int, seed: int, weights: str | None, **knobs: object) -> Settings:
    """Settings for a picture grown from noise at one scale; `knobs` pick the loss (one weight is 0)."""
    return Settings(size=size, iterations=steps, init="noise", seed=seed, coarse_to_fine=False, style_loss=STYLE_LOSS,
                    preview_every=max(1, steps // 25), weights=weights or default_weights(), **knobs)


def noise_like(size: tuple[int, int], seed: int) -> Image.Image:
    """The kind of noise init="noise" starts from (uniform, seeded), to show beside the results."""
    return to_pil(torch.rand((1, 3, size[1], size[0]), generator=torch.Generator().manual_seed(seed)))


def grow(sheet: Sheet, runs: dict[str, Iterator], titles: dict[str, str], what: str) -> Iterator[ViewEvent]:
    """Advance `runs` in turn, putting each one's newest picture in its panel; returns the final pictures."""
    finals: dict[str, Image.Image] = {}
    for name, event in round_robin(runs):
        sheet.step += 1
        if event.preview is not None:
            sheet.put(name, titles[name], event.preview)
        if event.done:
            finals[name] = event.preview
        yield sheet.event(f"{what}: step {event.step} of {event.total} for {titles[name]}")
    return finals


def reconstruct(photo: ImageSource, *, layers: Sequence[str] = STYLE_LAYERS, size: int = 128, steps: int = 64,
                tv: float = 0.5, seed: int = 0, weights: str | None = None,
                backbone: VGGFeatures | None = None) -> Iterator[ViewEvent]:
    """The photo rebuilt from noise using only the content loss at each of `layers`.

    `tv` adds a little smoothing: the network cannot see some fine noise, and without it that noise stays.
    """
    photo = decode_image(photo)
    if not layers:
        raise SettingsError("Choose at least one layer to rebuild the photo from.")
    plans = {layer: grown(size, steps, seed, weights, content_layer=layer, content_weight=1.0,
                          style_layers=("relu1_1",), style_weight=0.0, tv_weight=tv) for layer in layers}
    model = backbone or resolve_backbone(next(iter(plans.values())))
    model.check_layers(list(layers))
    sheet = Sheet("reconstruct", steps * len(plans))
    shape = plan_scales(photo.size, next(iter(plans.values())))[-1]
    target, noise = resize_to(photo, shape), noise_like(shape, seed)
    sheet.put("photo", "the photo", target)
    sheet.put("noise", "the noise it starts from", noise)
    yield sheet.event("Starting from noise")
    runs = {layer: stylize_iter(photo, photo, plan, backbone=model) for layer, plan in plans.items()}
    finals = yield from grow(sheet, runs, {layer: f"from {layer}" for layer in plans}, "Rebuilding the photo")
    yield sheet.event("Measuring how close each picture is to the photo")
    ruler = Yardstick(FeatureExtractor(model, pick_device("auto"), "fp32"), target.size)
    for name, picture in {**finals, "noise": noise}.items():
        rmse = pixel_rmse(picture, target)
        sheet.numbers[name] = {"pixel_rmse": round(rmse, 4), "psnr_db": round(psnr(rmse), 2),
                               f"{CONTENT_LAYER}_to_photo": round(ruler.content_distance(picture, target), 4),
                               f"{CONTENT_LAYER}_to_noise": round(ruler.content_distance(picture, noise), 4)}
    yield sheet.event(f"Done: {reconstruct_verdict(list(layers), sheet.numbers)}", done=True)


def reconstruct_verdict(layers: list[str], numbers: dict) -> str:
    """The closing line: the lesson when shallow and deep layers are both shown and the pixels come back less from
    each deeper one (the table's dB), else what the table shows."""
    psnr_db = [numbers[layer]["psnr_db"] for layer in layers]
    if len(layers) > 1 and psnr_db == sorted(psnr_db, reverse=True) and psnr_db[0] > psnr_db[-1]:
        return "shallow layers keep every pixel, deep layers only the arrangement."
    shown = ", ".join(f"{layer} {db:.1f} dB" for layer, db in zip(layers, psnr_db))
    return (f"how much of the photo's pixels came back ({shown}; the noise {numbers['noise']['psnr_db']:.1f} dB); "
            "the table also says how near each is to the photo in the deep layers.")


def layer_sets(kind: str) -> list[tuple[str, ...]]:
    """growing: {relu1_1}, {relu1_1, relu2_1}, ...; single: one layer at a time; all: the five together."""
    if kind == "growing":
        return [STYLE_LAYERS[:k] for k in range(1, len(STYLE_LAYERS) + 1)]
    if kind == "single":
        return [(layer,) for layer in STYLE_LAYERS]
    if kind == "all":
        return [STYLE_LAYERS]
    raise SettingsError(f"Layer sets must be growing, single or all, not {kind!r}.")


def set_name(layers: tuple[str, ...], kind: str) -> str:
    return layers[0] if len(layers) == 1 else f"to_{layers[-1]}" if kind == "growing" else "all5"


def set_title(layers: tuple[str, ...]) -> str:
    return layers[0] if len(layers) == 1 else f"{layers[0]} … {layers[-1]}"


def texture_plan(size: int, steps: int, seed: int, weights: str | None, layers: tuple[str, ...]) -> Settings:
    # The painting is also the "photo" (it sets the output's shape); content weight 0 ignores it.
    return grown(size, steps, seed, weights, content_layer="relu1_1", content_weight=0.0, style_layers=layers,
                 style_weight=1.0)


def texture(painting: ImageSource, *, sets: str = "growing", size: int = 128, steps: int = 64, seed: int = 0,
            weights: str | None = None, backbone: VGGFeatures | None = None) -> Iterator[ViewEvent]:
    """The painting's texture grown from noise with only the style loss, on each set of layers."""
    painting = decode_image(painting)
    chosen = layer_sets(sets)
    plans = {set_name(layers, sets): texture_plan(size, steps, seed, weights, layers) for layers in chosen}
    titles = {set_name(layers, sets): set_title(layers) for layers in chosen}
    model = backbone or resolve_backbone(next(iter(plans.values())))
    model.check_layers(list(STYLE_LAYERS))
    sheet = Sheet("texture", steps * len(plans))
    shape = plan_scales(painting.size, next(iter(plans.values())))[-1]
    target, noise = resize_to(painting, shape), noise_like(shape, seed)
    sheet.put("painting", "the painting", target)
    sheet.put("noise", "the noise it starts from", noise)
    yield sheet.event("Starting from noise")
    runs = {name: stylize_iter(painting, painting, plan, backbone=model) for name, plan in plans.items()}
    finals = yield from grow(sheet, runs, titles, "Growing the texture")
    yield sheet.event("Measuring how close each texture's Gram matrices are to the painting's")
    ruler = Yardstick(FeatureExtractor(model, pick_device("auto"), "fp32"), target.size)
    for name, picture in {**finals, "noise": noise}.items():
        sheet.numbers[name] = {"gram_distance": round(ruler.gram_distance(picture, target), 5)}
    yield sheet.event(f"Done: {texture_verdict(sets, [set_name(layers, sets) for layers in chosen], sheet.numbers)}",
                      done=True)


def texture_verdict(sets: str, names: list[str], numbers: dict) -> str:
    """The closing line: the lesson of growing sets when each added layer brought the texture nearer the painting's
    Gram matrices (the table), else what the table shows."""
    distance = [numbers[name]["gram_distance"] for name in names]
    if sets == "growing" and all(deeper < shallower for shallower, deeper in zip(distance, distance[1:])):
        return "the more layers the style uses, the larger the patterns it copies."
    if sets == "all":
        return (f"with all five layers, the texture's Gram distance to the painting is {distance[0]:.3f}, against "
                f"the starting noise's {numbers['noise']['gram_distance']:.3f}.")
    return "each picture matched the painting's Gram matrices on its own layers; the table says how near each came."


def shuffled_tiles(image: Image.Image, tiles: int, seed: int) -> Image.Image:
    """`image` cut into tiles × tiles pieces put back in a seeded random order (never the original order)."""
    if not 2 <= tiles <= 16:
        raise SettingsError(f"Tiles must be between 2 and 16 a side, not {tiles}.")
    width, height = (image.width // tiles) * tiles, (image.height // tiles) * tiles
    w, h = width // tiles, height // tiles
    if min(w, h) < 4:
        raise SettingsError(f"The painting is too small to cut into {tiles}x{tiles} tiles.")
    boxes = [(x * w, y * h, x * w + w, y * h + h) for y in range(tiles) for x in range(tiles)]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(boxes), generator=generator).tolist()
    if order == sorted(order):
        order = order[1:] + order[:1]
    out = Image.new("RGB", (width, height))
    for box, source in zip(boxes, order):
        out.paste(image.crop(boxes[source]), box[:2])
    return out


def shuffle(painting: ImageSource, *, tiles: int = 4, size: int = 128, steps: int = 64, seed: int = 0,
            weights: str | None = None, backbone: VGGFeatures | None = None) -> Iterator[ViewEvent]:
    """The painting and a tile-shuffled copy: Gram change against content change, and a texture from each."""
    painting = decode_image(painting)
    plan = texture_plan(size, steps, seed, weights, STYLE_LAYERS)
    model = backbone or resolve_backbone(plan)
    model.check_layers([*STYLE_LAYERS, CONTENT_LAYER])
    sheet = Sheet("shuffle", steps * 2)
    original = resize_to(painting, plan_scales(painting.size, plan)[-1])
    mixed = shuffled_tiles(original, tiles, seed)
    original = original.crop((0, 0, *mixed.size))
    sheet.put("painting", "the painting", original)
    sheet.put("shuffled", f"cut into {tiles}x{tiles} tiles, shuffled", mixed)
    yield sheet.event("Comparing the two in the network's eyes")
    ruler = Yardstick(FeatureExtractor(model, pick_device("auto"), "fp32"), mixed.size)
    gram_change = ruler.gram_distance(mixed, original)
    content_change = ruler.content_distance(mixed, original)
    sheet.numbers.update({"tiles": tiles, "gram_change": round(gram_change, 5),
                          "content_change": round(content_change, 5),
                          "content_over_gram": round(content_change / max(gram_change, 1e-12), 2)})
    sheet.put("bars", "how much each changed", render.bars(
        [("style (Gram)", gram_change, SHUFFLE_COLOURS["gram"]),
         (f"content ({CONTENT_LAYER})", content_change, SHUFFLE_COLOURS["content"])]))
    yield sheet.event("Growing a texture from each")
    runs = {"texture_painting": stylize_iter(original, original, plan, backbone=model),
            "texture_shuffled": stylize_iter(mixed, mixed, plan, backbone=model)}
    titles = {"texture_painting": "texture of the painting", "texture_shuffled": "texture of the shuffled one"}
    finals = yield from grow(sheet, runs, titles, "Growing textures")
    sheet.numbers["textures_gram_distance"] = round(
        ruler.gram_distance(finals["texture_shuffled"], finals["texture_painting"]), 5)
    yield sheet.event("Done: shuffling changed the content a lot and the style hardly at all.", done=True)
