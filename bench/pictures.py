"""The picture bench: methods judged like a person would, on a panel of photo x painting pairs, at equal
wall time on this machine.

    python -m bench.pictures --weights ../shared/weights/vgg16-caffe-features.pth --out out/pictures
    python -m bench.pictures --quick --weights untrained --out /tmp/pictures     # smoke test, tiny size
    python -m bench.pictures --merge out/run1 out/run2 --rename E=defaults --out docs/quality   # one table

Methods: the textbook Gatys loop (bench/textbook.py, with the PyTorch tutorial's clamp of the pixels at every
evaluation: without it, it diverged to black on tubingen x starry_night), the peer's settings
(crowsonkb/style-transfer-pytorch: style layers weighted 256:64:16:4:1, TV 2, replicate padding on the first
convolution, an average of the iterates with decay 0.99, the W2 loss) emulated in this engine, the engine's
defaults before issue 12 ("before"), its defaults now, and any `--extra NAME='{"setting": value}'`
candidates (on top of "before").

Equal time: every method gets the seconds the "before" defaults take for `--budget` steps. Each method's
seconds per step are measured at each scale on the first pair, in this process, so a slow spell of a shared
machine slows every method alike; its step count follows from them. The seconds each run really took are
in the table. Measures: bench/measures.py. Writes, under --out: each result, a contact sheet per method,
one sheet of the whole panel, the Pareto plot, and results.json; prints the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from nst_core import Settings, stylize_iter
from nst_core.backbones import load_backbone
from nst_core.cpu_memory import keep_freed_memory
from nst_core.gallery import get_style
from nst_core.images import decode_image, resize_longest, resize_to, to_pil, to_tensor
from nst_core.schedule import plan_scales, split_iterations

from .measures import Judge, judge
from .sheets import contact_sheet, pareto_plot
from .textbook import textbook_stylize

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
# photo, painting: a painting is a file in ../shared/images or a gallery name.
PANEL = (("tubingen", "starry_night"), ("tubingen", "picasso_selfport1907"), ("golden_gate", "the_scream"),
         ("brad_pitt", "woman-with-hat-matisse"), ("golden_gate", "mosaic_tesserae"),
         ("brad_pitt", "swirling_impasto"),
         # portraits onto a photo with no face in it: the sitter's face is the motif a style loss can paste
         ("golden_gate", "picasso_selfport1907"), ("tubingen", "woman-with-hat-matisse"))
# The engine's defaults before issue 12, pinned so the comparison survives changes to the defaults.
BEFORE = {"style_weight": 10.0, "content_weight": 1.0, "tv_weight": 0.0, "content_layer": "relu4_2",
          "style_layers": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), "style_layer_weights": None,
          "style_loss": "gram", "border": "zeros", "average_decay": 0.0, "fine_falloff": 1.0, "depth_falloff": 1.0,
          "init": "content"}
PEER = {**BEFORE, "style_layer_weights": (256.0, 64.0, 16.0, 4.0, 1.0), "tv_weight": 2.0, "border": "replicate",
        "average_decay": 0.99, "style_loss": "w2"}
TEXTBOOK = "textbook"
# The PyTorch tutorial's balance (style 1e6 : content 1 on ImageNet-normalised input) moved to the Caffe input
# range of the shared weights (x57.7 in pixel scale: content MSE grows with its square, Gram MSE with its fourth
# power). The tutorial's own 1e6 on these weights turned the photo into noise within 87 evaluations.
TEXTBOOK_STYLE_WEIGHT = 300.0
METHODS = {TEXTBOOK: None, "peer settings": PEER, "before": BEFORE, "defaults": {}}
MEASURES = ("style", "colour", "structure", "speckle", "top_band", "edge_band")


@dataclass
class Pair:
    photo_name: str
    painting_name: str
    photo: Image.Image = field(repr=False)
    painting: Image.Image = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.photo_name} x {self.painting_name}"


def load_pair(photo: str, painting: str) -> Pair:
    file = SHARED_IMAGES / f"{painting}.jpg"
    source = file if file.is_file() else get_style(painting).path
    return Pair(photo, painting, decode_image(SHARED_IMAGES / f"{photo}.jpg"), decode_image(source))


def settings_for(overrides: dict, args: argparse.Namespace, **more) -> Settings:
    values = {"size": args.size, "iterations": args.budget, "preview_every": 1000, **overrides, **more}
    if args.weights:
        values["weights"] = args.weights
    return Settings(**values)


class Bench:
    """One panel run: the measured step costs, the step counts they give, and each method's results."""

    def __init__(self, args: argparse.Namespace, methods: dict[str, dict | None]) -> None:
        self.args, self.methods = args, methods
        weights = Settings(**({"weights": args.weights} if args.weights else {})).weights
        self.textbook_net = load_backbone(weights, pooling="max")  # the tutorial's network: as trained
        self.judge = Judge(self.textbook_net)
        self.costs: dict[str, list[float]] = {}

    def engine_run(self, pair: Pair, settings: Settings) -> tuple[Image.Image, list[float]]:
        """The final image, and the time stamp of each step's event."""
        stamps, final = [], None
        for event in stylize_iter(pair.photo, pair.painting, settings):
            stamps.append(time.perf_counter())
            final = event
        return final.preview, stamps

    def textbook_run(self, pair: Pair, evaluations: int) -> Image.Image:
        content = to_tensor(resize_longest(pair.photo, self.args.size))
        style = to_tensor(resize_longest(pair.painting, self.args.size))
        image = textbook_stylize(self.textbook_net, content, style, evaluations=evaluations, clamp=True,
                                 style_weight=TEXTBOOK_STYLE_WEIGHT)
        return to_pil(torch.nan_to_num(image))

    def measure_costs(self, pair: Pair, probe: int = 4, rounds: int = 3) -> None:
        """Seconds per step at every scale of the plan, on `pair`, after a warm-up step: the median of
        interleaved rounds. Methods whose steps do the same work (the same loss, layers and network) share one
        measurement, so noise cannot give two of them different budgets."""
        sizes = plan_scales(pair.photo.size, settings_for(BEFORE, self.args))
        keys = {name: cost_key(overrides) for name, overrides in self.methods.items()}
        samples: dict[tuple, list[list[float]]] = {key: [] for key in keys.values()}
        for _round in range(rounds):
            for key, name in {key: name for name, key in keys.items()}.items():
                samples[key].append(self.probe(pair, self.methods[name], sizes, probe))
        for name, key in keys.items():
            self.costs[name] = [statistics.median(scale) for scale in zip(*samples[key])]

    def probe(self, pair: Pair, overrides: dict | None, sizes: list[tuple[int, int]], probe: int) -> list[float]:
        if overrides is None:
            self.textbook_run(pair, 1)  # the first calls build the convolution kernels for these shapes
            start = time.perf_counter()
            self.textbook_run(pair, probe + 1)
            middle = time.perf_counter()
            self.textbook_run(pair, 1)
            return [((middle - start) - (time.perf_counter() - middle)) / probe]
        costs = []
        for size in sizes:
            settings = settings_for(overrides, self.args, size=max(size), iterations=probe + 1, coarse_to_fine=False)
            _, stamps = self.engine_run(pair, settings)
            costs.append((stamps[-1] - stamps[0]) / probe)
        return costs

    def predicted_seconds(self, name: str, steps: int) -> float:
        costs = self.costs[name]
        return sum(n * c for n, c in zip(split_iterations(steps, len(costs)), costs))

    def steps_for(self, name: str, seconds: float) -> int:
        """The step count whose predicted time is closest to `seconds` for this method."""
        if self.methods[name] is None:
            return max(1, round(seconds / self.costs[name][0]))
        steps = max(len(self.costs[name]), round(seconds / self.predicted_seconds(name, 1000) * 1000))
        while steps > len(self.costs[name]) and self.predicted_seconds(name, steps) > seconds * 1.02:
            steps -= 1
        return steps

    def run(self, pair: Pair, name: str, steps: int, seconds: float) -> tuple[Image.Image, float]:
        start = time.perf_counter()
        if self.methods[name] is None:
            image = self.textbook_run(pair, steps)
        else:
            settings = settings_for(self.methods[name], self.args, iterations=steps, max_seconds=3 * seconds)
            image, _ = self.engine_run(pair, settings)
        return image, time.perf_counter() - start

    def score(self, pair: Pair, image: Image.Image) -> dict[str, float]:
        photo = to_tensor(resize_to(pair.photo, image.size))
        painting = to_tensor(resize_longest(pair.painting, max(image.size)))
        result = to_tensor(image)
        if not math.isfinite(result.sum().item()) or result.std() < 1e-3:
            return {m: math.nan for m in MEASURES}  # a diverged (black) result has no meaningful score
        return judge(self.judge, result, photo, painting)


def cost_key(overrides: dict | None) -> tuple:
    """What sets a method's cost per step: the loop (textbook or engine), the loss and the layers it runs."""
    if overrides is None:
        return (TEXTBOOK,)
    settings = Settings(**overrides)
    return (settings.style_loss, settings.content_layer, settings.style_layers, settings.precision)


def mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.mean(finite) if finite else math.nan


def print_tables(pairs: list[Pair], rows: dict[str, list[dict]], steps: dict[str, int], budget: float,
                 photos: list[dict]) -> None:
    print(f"\nMean over {len(pairs)} pairs (budget {budget:.1f} s per result; style, colour, speckle and bands: lower "
          "is better; structure: higher is better; the photo itself for reference)\n")
    print("| method | steps | seconds | style distance | colour distance | structure kept | speckle | top band "
          "| edge band |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("| (the photo) | | | " + " | ".join(f"{mean([r[m] for r in photos]):.3f}" for m in MEASURES) + " |")
    for name, results in rows.items():
        cells = [f"{mean([r[m] for r in results]):.3f}" for m in MEASURES]
        print(f"| {name} | {steps[name]} | {mean([r['seconds'] for r in results]):.1f} | " + " | ".join(cells) + " |")
    print("\nPer pair: style distance / structure kept\n")
    print("| pair | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for i, pair in enumerate(pairs):
        cells = [f"{rows[name][i]['style']:.3f} / {rows[name][i]['structure']:.3f}" for name in rows]
        print(f"| {pair.name} | " + " | ".join(cells) + " |")


def verdicts(rows: dict[str, list[dict]], candidate: str) -> list[str]:
    """Whether `candidate` is better on both opposing measures than each other method (mean, and per pair)."""
    lines = []
    for name, results in rows.items():
        if name == candidate:
            continue
        ours = rows[candidate]
        wins = sum(a["style"] < b["style"] and a["structure"] > b["structure"] for a, b in zip(ours, results))
        both = mean([r["style"] for r in ours]) < mean([r["style"] for r in results]) and \
            mean([r["structure"] for r in ours]) > mean([r["structure"] for r in results])
        lines.append(f"{candidate} vs {name}: better on both measures on the mean: {'yes' if both else 'no'}; "
                     f"on {wins} of {len(ours)} pairs")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="weights source or file (default: the settings' default)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--budget", type=int, default=Settings().iterations,
                        help="the time budget, as the steps the 'before' defaults take in it")
    parser.add_argument("--pairs", type=int, nargs="+", default=None, help="panel indices to run (default: all)")
    parser.add_argument("--methods", nargs="+", default=None, help="methods to run (default: all)")
    parser.add_argument("--extra", nargs="+", default=[], metavar="NAME=JSON", help="candidate settings")
    parser.add_argument("--quick", action="store_true", help="smoke test: one pair, 64 px, a 6-step budget")
    parser.add_argument("--out", default="out/pictures")
    parser.add_argument("--merge", nargs="+", default=None, metavar="DIR",
                        help="no runs: merge the results of earlier runs (same size and budget) into --out")
    parser.add_argument("--rename", nargs="+", default=[], metavar="OLD=NEW", help="with --merge: rename methods")
    args = parser.parse_args()
    if args.merge:
        merge(args)
        return
    if args.quick:
        args.size, args.budget, args.pairs = 64, 6, args.pairs or [0]
    keep_freed_memory()  # the engine turns this on for the process anyway: give the textbook loop it too
    methods = dict(METHODS)
    for extra in args.extra:
        name, _, values = extra.partition("=")
        methods[name] = {**BEFORE, **{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(values).items()}}
    if args.methods:
        methods = {name: methods[name] for name in args.methods}
    pairs = [load_pair(*PANEL[i]) for i in (args.pairs if args.pairs is not None else range(len(PANEL)))]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, {**methods, "before": BEFORE} if "before" not in methods else methods)
    bench.measure_costs(pairs[0], probe=2 if args.quick else 4, rounds=1 if args.quick else 3)
    budget = bench.predicted_seconds("before", args.budget)
    steps = {name: bench.steps_for(name, budget) for name in methods}
    print(f"# {args.size} px, {torch.get_num_threads()} threads; seconds per step at each scale, measured on "
          f"{pairs[0].name}:")
    for name in methods:
        print(f"#   {name}: " + ", ".join(f"{c * 1e3:.0f} ms" for c in bench.costs[name]) + f" -> {steps[name]} steps")
    rows: dict[str, list[dict]] = {name: [] for name in methods}
    images: dict[str, list[Image.Image]] = {name: [] for name in methods}
    for pair in pairs:
        for name in methods:  # interleaved: a slow spell of the machine hits every method
            image, seconds = bench.run(pair, name, steps[name], budget)
            image.save(out / f"{pair.photo_name}-{pair.painting_name}-{name.replace(' ', '_')}.png")
            rows[name].append({**bench.score(pair, image), "seconds": seconds, "pair": pair.name})
            images[name].append(image)
            print(f"# {pair.name}, {name}: {seconds:.1f} s, " + ", ".join(
                f"{m} {rows[name][-1][m]:.3f}" for m in MEASURES), flush=True)
    photos = [bench.score(pair, resize_longest(pair.photo, args.size)) for pair in pairs]
    print_tables(pairs, rows, steps, budget, photos)
    if "defaults" in rows:
        print("\n" + "\n".join(verdicts(rows, "defaults")))
    write_pictures(out, pairs, rows, images, args)
    (out / "results.json").write_text(json.dumps(
        {"size": args.size, "budget_seconds": budget, "photos": photos, "budget_steps": args.budget, "steps": steps,
         "costs_ms": {k: [c * 1e3 for c in v] for k, v in bench.costs.items()}, "rows": rows,
         "methods": {k: v for k, v in methods.items()}}, indent=2, default=list))


def merge(args: argparse.Namespace) -> None:
    """One table, plot and set of sheets from runs made apart (e.g. more candidates later). Their engine methods
    are comparable when the budget is the same: equal cost per step gives the same step count in every run."""
    renames = dict(item.split("=", 1) for item in args.rename)
    runs = [(Path(d), json.loads((Path(d) / "results.json").read_text())) for d in args.merge]
    first = runs[0][1]
    if any(r["size"] != first["size"] or r["budget_steps"] != first["budget_steps"] for _, r in runs):
        raise SystemExit("The runs to merge must have the same size and budget.")
    args.size, args.budget = first["size"], first["budget_steps"]
    pairs = [load_pair(*row["pair"].split(" x ")) for row in next(iter(first["rows"].values()))]
    rows, images, steps, methods = {}, {}, {}, {}
    for directory, run in runs:
        for name, results in run["rows"].items():
            if [r["pair"] for r in results] != [p.name for p in pairs]:
                raise SystemExit(f"{directory} ran other pairs than {args.merge[0]}.")
            shown = renames.get(name, name)
            rows[shown], steps[shown], methods[shown] = results, run["steps"][name], run["methods"][name]
            images[shown] = [Image.open(directory / f"{p.photo_name}-{p.painting_name}-{name.replace(' ', '_')}.png")
                             for p in pairs]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print_tables(pairs, rows, steps, first["budget_seconds"], first["photos"])
    if "defaults" in rows:
        print("\n" + "\n".join(verdicts(rows, "defaults")))
    write_pictures(out, pairs, rows, images, args)
    (out / "results.json").write_text(json.dumps(
        {"size": args.size, "budget_seconds": first["budget_seconds"], "photos": first["photos"],
         "budget_steps": args.budget, "steps": steps, "rows": rows, "methods": methods, "merged": args.merge},
        indent=2, default=list))


def write_pictures(out: Path, pairs: list[Pair], rows: dict[str, list[dict]], images: dict[str, list[Image.Image]],
                   args: argparse.Namespace) -> None:
    side = max(args.size, 64)
    for name, results in images.items():
        tiles = [(image, pair.painting, f"{pair.name}\nstyle {r['style']:.2f}  structure {r['structure']:.2f}  "
                  f"speckle {r['speckle']:.2f}") for image, pair, r in zip(results, pairs, rows[name])]
        contact_sheet(tiles, columns=min(3, len(tiles)), title=f"{name}: {args.size} px, equal time",
                      side=side).save(out / f"sheet-{name.replace(' ', '_')}.jpg", quality=90)
    panel = []
    for i, pair in enumerate(pairs):
        panel.append((resize_longest(pair.photo, args.size), pair.painting, "photo (painting in the corner)"))
        panel += [(images[name][i], None, name) for name in images]
    contact_sheet(panel, columns=len(images) + 1, title="the panel: photo, then each method",
                  side=side).save(out / "panel.jpg", quality=90)
    points = {name: [(r["structure"], r["style"]) for r in results if math.isfinite(r["style"])]
              for name, results in rows.items()}
    means = {name: (mean([p[0] for p in pts]), mean([p[1] for p in pts])) for name, pts in points.items() if pts}
    pareto_plot({k: v for k, v in points.items() if k in means}, means, out / "pareto.png",
                f"{len(pairs)} pairs, {args.size} px, equal time ({args.budget} steps of the old defaults)")


if __name__ == "__main__":
    main()
