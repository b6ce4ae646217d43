"""Painting a folder of photos, or a long clip in segments, here or on a Ray cluster; a rerun goes on.

    python -m nst_core.batch IN STYLE -o OUT_DIR [--method fast|slow] [--size N] [--iterations N]
                             [--ray local|ADDRESS] [--segment-frames N --overlap K]

IN is a folder (its photos, and any clips in it) or one clip. Each photo becomes OUT_DIR/<name>.png, carrying
its recipe; each clip is cut into segments (segments.py), painted apart, kept in OUT_DIR/segments/ until all
are painted, then joined into OUT_DIR/<name>.mp4 (the clip's frame rate and sound) with <name>.json, its recipe.
Every photo and segment is an item (batch_items.py): here they run one after another; with --ray, each is a Ray
task (ray_runner.py). Outputs are written whole or not at all, so a rerun takes what is there as done and paints
the rest. A file that cannot be painted costs one line and its own item; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .batch_items import CLIP_SIZE, PHOTO_SIZE, Item, Job, Painter, PhotoItem, SegmentItem, attempt, written_whole
from .command import run_command
from .config import Settings
from .errors import NSTError, SettingsError
from .segments import joined_frames, plan_segments
from .video import Clip, ClipWriter, choose_painter, open_clip, painted_size, read_frames

CLIP_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"})
RECORD = ".nst-batch.json"  # in OUT_DIR: what its batch is painted with


# --- the plan: what is to do, what is done, what cannot be done ---------------------------------------------------

@dataclass(frozen=True)
class ClipPlan:
    clip: Clip
    segments: list[SegmentItem]
    output: Path  # the MP4; its recipe beside it, with .json

    @property
    def recipe(self) -> Path:
        return self.output.with_suffix(".json")


@dataclass
class Plan:
    items: list[Item] = field(default_factory=list)  # to paint
    clips: list[ClipPlan] = field(default_factory=list)  # to join once their segments are painted
    done_before: int = 0  # outputs a run before left
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, sentence)


def make_plan(source: Path, out_dir: Path, job: Job) -> Plan:
    """What is to paint in `source` (a folder's files by name, or one file; a clip by its suffix), leaving out what
    `out_dir` already holds from a run before; a clip that cannot be read, or two files with one output, refused."""
    if source.is_dir():
        files = sorted(path for path in source.iterdir() if path.is_file() and not path.name.startswith("."))
    elif source.is_file():
        files = [source]
    else:
        raise NSTError(f"There is no folder or clip at {source.name or str(source)!r}.")
    plan, outputs = Plan(), {}
    for path in files:
        output = out_dir / (path.stem + (".mp4" if path.suffix.lower() in CLIP_SUFFIXES else ".png"))
        if output in outputs:
            plan.refused.append((path.name, f"It would be painted into {output.name}, as {outputs[output]} is; "
                                             "rename one of them."))
            continue
        outputs[output] = path.name
        if output.suffix == ".png":
            plan.done_before += output.is_file()
            if not output.is_file():
                plan.items.append(PhotoItem(path, output))
            continue
        if output.is_file() and output.with_suffix(".json").is_file():
            plan.done_before += 1
            continue
        try:
            clip = open_clip(path)
            segments = [SegmentItem(segment, out_dir / "segments" / segment.file_name)
                        for segment in plan_segments(clip, job.segment_frames, job.overlap)]
        except NSTError as error:
            plan.refused.append((path.name, str(error)))
            continue
        plan.clips.append(ClipPlan(clip, segments, output))
        plan.done_before += sum(item.output.is_file() for item in segments)
        plan.items += [item for item in segments if not item.output.is_file()]
    return plan


def claim(out_dir: Path, choices: dict) -> None:
    """OUT_DIR keeps what its batch is painted with: a rerun takes every output there as done, so one with other
    choices would mix two batches' pictures; it is refused."""
    record, choices = out_dir / RECORD, json.loads(json.dumps(choices))
    try:
        before = json.loads(record.read_text())
    except FileNotFoundError:
        with written_whole(record) as temporary:
            temporary.write_text(json.dumps(choices, indent=1))
        return
    except ValueError:
        before = None
    if before != choices:
        raise SettingsError(f"{out_dir.name or out_dir} holds a batch painted with other choices (style, method, "
                            "size, steps or segments): give another folder, or the same choices to go on with it.")


# --- the run ---------------------------------------------------------------------------------------------------

@dataclass
class Summary:
    painted: int = 0
    done_before: int = 0
    failed: int = 0


def paint_batch(source: Path, out_dir: Path, painter: Painter, job: Job, *, ray: str | None = None,
                say: Callable[[str], None] = print) -> Summary:
    """Every photo and clip in `source` painted into `out_dir`, here (`ray` None) or as Ray tasks on the cluster at
    `ray` ("local": one started here). `say` takes the progress lines."""
    if source.resolve() == out_dir.resolve():
        raise SettingsError("The output folder must not be the input folder (its pictures would be painted again).")
    plan = make_plan(source, out_dir, job)
    out_dir.mkdir(parents=True, exist_ok=True)
    claim(out_dir, {**asdict(job), "settings": painter.settings.to_dict() if job.method == "slow" else None})
    if ray is None or not plan.items:
        outcomes = (attempt(item, painter, job) for item in plan.items)
    else:
        from .ray_runner import run_on_ray  # Ray is an optional extra: imported only when asked for

        outcomes = run_on_ray(ray, plan.items, painter, job, wants_gpu=job.method == "slow")
    summary = Summary(done_before=plan.done_before, failed=len(plan.refused))
    for name, sentence in plan.refused:
        say(f"skipped {name}: {sentence}")
    if plan.done_before:
        say(f"{plan.done_before} already done in {out_dir.name or out_dir}, not painted again")
    failed = set()
    for count, outcome in enumerate(outcomes, start=1):
        if outcome.error is not None:
            say(f"skipped {outcome.item.name}: {outcome.error}")
            failed.add(outcome.item)
            continue
        outcome.item.store(outcome.payload)
        summary.painted += 1
        say(f"[{count}/{len(plan.items)}] {outcome.item.name} ({outcome.seconds:.1f} s)")
    summary.failed += len(failed)
    for clip in plan.clips:
        if failed.intersection(clip.segments):
            continue  # its failed segment said why; a rerun paints it and joins the clip
        try:
            join_clip(clip, painter, job)
        except (NSTError, OSError) as error:  # (ffmpeg's complaints come as OSError)
            say(f"skipped {clip.clip.path.name}: {error}")
            summary.failed += 1
            continue
        say(f"joined {clip.output.name}")
    with suppress(OSError):  # the segments' folder, once every clip is joined
        (out_dir / "segments").rmdir()
    return summary


def join_clip(plan: ClipPlan, painter: Painter, job: Job) -> None:
    """A clip's painted segments joined into its MP4 (its frame rate and sound) and its recipe; the segments'
    files, no longer needed, are removed."""
    size = job.size or CLIP_SIZE
    writer = ClipWriter(plan.clip, painted_size(plan.clip, size))
    first = None
    try:
        for frame in joined_frames((item.segment, np.load(item.output)) for item in plan.segments):
            first = frame if first is None else first
            writer.send(frame)
        with written_whole(plan.output) as temporary:
            writer.finish(temporary)
    finally:
        writer.close()
    recipe = job.recipe(painter, next(read_frames(plan.clip)), Image.fromarray(first), plan.clip.path)
    recipe.update(frames=writer.frames, fps=plan.clip.fps, segment_frames=job.segment_frames, overlap=job.overlap)
    with written_whole(plan.recipe) as temporary:
        temporary.write_text(json.dumps(recipe, indent=1, sort_keys=True))
    for item in plan.segments:
        item.output.unlink()


# --- the command line ----------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nst_core.batch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", metavar="IN", help="a folder of photos (and clips), or one clip")
    parser.add_argument("style", help="a gallery style's name, a painting file, or a fast-network file (.pt)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="the folder for the paintings")
    parser.add_argument("--method", choices=("fast", "slow"), default=None,
                        help="fast: a network; slow: the optimisation (default: fast where a network exists for the "
                             "style)")
    parser.add_argument("--size", type=int, default=None, help=f"the longest side (default {PHOTO_SIZE} for photos, "
                        f"{CLIP_SIZE} for clips)")
    parser.add_argument("--iterations", type=int, default=None, help="slow: the optimiser's steps (for a clip's "
                        "first frame; a third of them for each next one)")
    parser.add_argument("--weights", default=None, help="slow: the VGG weights (a source name or a file)")
    parser.add_argument("--ray", metavar="local|ADDRESS", default=None, help="run each item as a Ray task: on a "
                        "cluster started here (local) or on the one at ADDRESS")
    parser.add_argument("--segment-frames", type=int, default=Job.segment_frames,
                        help=f"a clip's frames per segment (default {Job.segment_frames})")
    parser.add_argument("--overlap", type=int, default=Job.overlap, help="frames each segment paints before its "
                        f"own to warm up, cross-faded with the segment before (default {Job.overlap}; 0: none)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        values = {"size": args.size, "iterations": args.iterations, "weights": args.weights}
        settings = Settings(**{name: value for name, value in values.items() if value is not None})
        painter, method = choose_painter(args.style, args.method, settings)
        job = Job(args.style, method, args.size, args.segment_frames, args.overlap)
        out_dir = Path(args.output)
        summary = paint_batch(Path(args.source), out_dir, painter, job, ray=args.ray,
                              say=lambda line: print(line, file=sys.stderr, flush=True))
        print(f"{summary.painted} painted, {summary.done_before} already done, {summary.failed} failed, in {out_dir}")
        return 1 if summary.failed else 0

    return run_command(body, args.output, interrupted="; what is done is kept: run again to go on")


if __name__ == "__main__":
    raise SystemExit(main())
