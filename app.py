"""The browser studio: Gradio UI over nst_core. It only adapts UI values to the engine and streams its events.

Run `python app.py` and open http://127.0.0.1:7860. On Hugging Face Spaces the same file is the app.
Every default, range and hint comes from nst_core.config.Settings; nothing here repeats them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import torch
from gradio.utils import get_upload_folder
from PIL import Image

from nst_core import NSTError, Settings
from nst_core.backbones import SOURCES
from nst_core.config import COLOR_MODES, INITS, LAYER_CHOICES, OPTIMIZERS, field_info
from nst_core.cpu_memory import keep_freed_memory
from nst_core.engine import make_recipe, pick_device, resolve_backbone, stylize_iter
from nst_core.gallery import list_styles
from nst_core.images import MAX_BYTES, decode_image, read_recipe, save_png

log = logging.getLogger("nst_studio")

# Limits of a shared server (README "Limits and safety"); environment variables let a host change them.
MAX_SIZE = int(os.environ.get("NST_MAX_SIZE", "1024"))
MAX_ITERATIONS = int(os.environ.get("NST_MAX_ITERATIONS", "1000"))
JOB_SECONDS = float(os.environ.get("NST_JOB_SECONDS", "300"))
QUEUE_SIZE = int(os.environ.get("NST_QUEUE_SIZE", "32"))
COMPUTE_SLOTS = int(os.environ.get("NST_COMPUTE_SLOTS", "1"))
# Gradio keeps ~135 kB of state per session (each API call is one) up to 10000 sessions (~1.3 GB); this app
# keeps nothing there it needs, so a smaller bound only caps memory (tests/test_reliability.py soak).
STATE_SESSIONS = int(os.environ.get("NST_STATE_SESSIONS", "500"))
UPDATE_INTERVAL = 0.1  # seconds between status/chart updates: Stop is honoured at the next one
PREVIEW_INTERVAL = 0.25  # at most 4 images a second: each is encoded, written and fetched by the browser
# Results live in Gradio's cache folder (served from there as they are, not copied) and this app ages them
# out itself: Gradio's delete_cache only removes files it tracks per component, and every gr.skip() gives
# the session a fresh, untracked copy of the output components, so it never removed a result or a frame.
CACHE_DIR = Path(get_upload_folder())
OUTPUT_DIR = CACHE_DIR / "nst-studio-outputs"  # download PNGs, one random folder each
OUTPUT_MAX_AGE = 30 * 60
FRAME_DIR = CACHE_DIR / "nst-studio-frames"  # streamed previews, one folder per distinct image
FRAME_MAX_AGE = 10 * 60
PRUNE_INTERVAL = 30.0  # seconds between sweeps of FRAME_DIR while frames stream
DEFAULTS = Settings()

if not torch.cuda.is_available():
    # torch's default (a thread per core) measured best here: on two cores, 60 steps at 256 px through the
    # studio took 18.2 s with two threads and 29.5 s with one (`python -m bench.studio`). Override to share.
    if os.environ.get("NST_TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["NST_TORCH_THREADS"]))
    # Before Gradio starts its worker threads, so that they share the one reusable heap (cpu_memory).
    keep_freed_memory()

# torch.optim's first optimiser imports torch._dynamo (2.9 s on two cores): do that while the page loads,
# not after the first Run.
threading.Thread(target=lambda: torch.optim.LBFGS([torch.zeros(1, requires_grad=True)]), daemon=True).start()

try:  # ZeroGPU on Hugging Face Spaces; the decorator is a no-op elsewhere, and the package optional.
    import spaces
except ImportError:
    spaces = None


class UploadedImage(gr.Image):
    """A gr.Image whose upload reaches the handler as raw bytes or a path, undecoded.

    Gradio would open uploads with every Pillow plugin (no allowlist) and accept inline data: URLs of
    any size; nst_core.images decodes them instead, with an allowlist and size caps.
    """

    is_template = True  # render with the stock image component in the browser

    def preprocess(self, payload: Any) -> str | bytes | None:
        if payload is None:
            return None
        url = getattr(payload, "url", None) or ""
        if url.startswith("data:"):
            encoded = url.partition(",")[2]
            if len(encoded) > MAX_BYTES * 4 // 3 + 4:
                raise gr.Error(f"The image is too large: at most {MAX_BYTES // (1024 * 1024)} MB is accepted.")
            try:
                return base64.b64decode(encoded, validate=False)
            except (binascii.Error, ValueError):
                raise gr.Error("The image data is not valid base64.") from None
        if getattr(payload, "path", None) is None:
            raise gr.Error("No image was received.")
        return payload.path


class NumberSlider(gr.Slider):
    """A gr.Slider that answers a non-number from the API with a sentence (Gradio's own check fails silently)."""

    is_template = True  # render with the stock slider in the browser

    def preprocess(self, payload: Any) -> float:
        if isinstance(payload, bool) or not isinstance(payload, (int, float)):
            raise gr.Error(f"{self.label} must be a number, not {str(payload)[:40]!r}.", print_exception=False)
        return super().preprocess(payload)


class StreamedImage(gr.Image):
    """The live result: each frame is written to FRAME_DIR once, under a temporary name then renamed.

    gr.Image names a frame's file by its content hash and rewrites (truncates, then writes) that file every
    time. The engine is deterministic, so two sessions with the same photo, painting and settings stream
    byte-identical frames, and one session's rewrite cut off the other's download of the same file
    ("peer closed connection", seen in tests/test_reliability.py's soak).
    """

    is_template = True  # render with the stock image component in the browser

    def postprocess(self, value: Any) -> Any:
        if isinstance(value, Image.Image):
            value = cache_frame(value, self.format)
        return super().postprocess(value)


_last_prune = 0.0


def prune(folder: Path, max_age: float) -> None:
    """Remove the subfolders of `folder` whose newest file is older than `max_age` seconds."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in list(folder.iterdir()):
            with contextlib.suppress(OSError):
                newest = max((f.stat().st_mtime for f in entry.iterdir()), default=entry.stat().st_mtime)
                if now - newest > max_age:
                    shutil.rmtree(entry, ignore_errors=True)


def cache_frame(image: Image.Image, fmt: str) -> str:
    global _last_prune
    if time.monotonic() - _last_prune > PRUNE_INTERVAL:
        _last_prune = time.monotonic()
        prune(FRAME_DIR, FRAME_MAX_AGE)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    data = buffer.getvalue()
    folder = FRAME_DIR / hashlib.sha256(data).hexdigest()
    path = folder / f"image.{fmt}"
    try:
        os.utime(path)  # prune() ages frames by mtime: this one is handed out again
        return str(path)
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=folder, prefix=".image.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise
    return str(path)


class JobBoard:
    """Who runs and who waits: one job per browser session, first come first served on COMPUTE_SLOTS.

    Gradio's queue has no per-visitor limit, so one visitor's extra jobs would lock a classroom out; a
    session's second job is refused here at once instead, which frees its queue slot immediately.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.lock = threading.Lock()
        self.waiting: deque[str] = deque()
        self.running: set[str] = set()
        self.sessions: dict[str, str] = {}  # ticket -> session

    def join(self, session: str) -> str | None:
        with self.lock:
            if session in self.sessions.values():
                return None
            ticket = uuid.uuid4().hex
            self.sessions[ticket] = session
            self.waiting.append(ticket)
            return ticket

    def try_start(self, ticket: str) -> bool:
        with self.lock:
            free = self.slots - len(self.running)
            if ticket in list(self.waiting)[:max(free, 0)]:
                self.waiting.remove(ticket)
                self.running.add(ticket)
                return True
            return False

    def ahead_of(self, ticket: str) -> int:
        with self.lock:
            return len(self.running) + (self.waiting.index(ticket) if ticket in self.waiting else 0)

    def leave(self, ticket: str) -> None:
        with self.lock:
            self.running.discard(ticket)
            with contextlib.suppress(ValueError):
                self.waiting.remove(ticket)
            self.sessions.pop(ticket, None)


BOARD = JobBoard(COMPUTE_SLOTS)
# The latest image of each session, so Stop can still offer a download. Bounded: old sessions drop out.
LAST_RESULTS: OrderedDict[str, tuple[Image.Image, dict]] = OrderedDict()


def remember(session: str, image: Image.Image, recipe: dict) -> None:
    LAST_RESULTS[session] = (image, recipe)
    LAST_RESULTS.move_to_end(session)
    while len(LAST_RESULTS) > 64:
        LAST_RESULTS.popitem(last=False)


# --- adapting UI values ----------------------------------------------------------------------------------

def weight_from_log(value: float, name: str) -> float:
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise NSTError(f"{name} must be a finite number, not {value!r}.")
    return 10.0 ** float(value)


def parse_layer_weights(text: str, layers: list[str]) -> tuple[float, ...] | None:
    """'relu1_1=2, relu4_1=0.5' -> one weight per chosen layer (1 where not given); '' -> None."""
    text = (text or "").strip()
    if not text:
        return None
    weights = dict.fromkeys(layers, 1.0)
    for part in text.replace(";", ",").split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in weights:
            raise NSTError(f"Per-layer weights look like 'relu1_1=2, relu4_1=0.5' and name chosen style layers; "
                           f"{part.strip()!r} does not.")
        try:
            weights[name] = float(value)
        except ValueError:
            raise NSTError(f"The weight for {name} must be a number, not {value.strip()!r}.") from None
    return tuple(weights.values())


def build_settings(iterations: Any, size: Any, *, style_weight_log10: Any, content_weight_log10: Any,
                   tv_weight: Any, content_layer: str, style_layers: list[str], layer_weights: str,
                   blends: list[float], optimizer: str, init: str, seed: Any, preserve_color: str,
                   style_scale: Any, weights: str, preview_every: Any) -> Settings:
    """UI values -> validated Settings, with this server's limits applied."""
    for name, value, top in (("iterations", iterations, MAX_ITERATIONS), ("size", size, MAX_SIZE)):
        if isinstance(value, (int, float)) and math.isfinite(value) and value > top:
            raise NSTError(f"{name} is limited to {top} on this server.")
    layers = list(style_layers or [])
    return Settings(
        iterations=iterations, size=size,
        style_weight=weight_from_log(style_weight_log10, "style_weight_log10"),
        content_weight=weight_from_log(content_weight_log10, "content_weight_log10"),
        tv_weight=tv_weight, content_layer=content_layer, style_layers=tuple(layers),
        style_layer_weights=parse_layer_weights(layer_weights, layers),
        style_blend=tuple(blends) if len(blends) > 1 else None,
        optimizer=optimizer, init=init, seed=seed, preserve_color=preserve_color, style_scale=style_scale,
        weights=resolve_weights_choice(weights), preview_every=preview_every, max_seconds=JOB_SECONDS)


def weights_choices() -> list[str]:
    local = os.environ.get("NST_WEIGHTS")
    return ([f"local: {Path(local).name}"] if local else []) + list(SOURCES)


def resolve_weights_choice(choice: str) -> str:
    """The dropdown offers source names and the server's own file; never an arbitrary path."""
    if choice in SOURCES:
        return choice
    local = os.environ.get("NST_WEIGHTS")
    if local and choice == f"local: {Path(local).name}":
        return local
    raise NSTError(f"weights must be one of {', '.join(weights_choices())}.")


# --- the job -----------------------------------------------------------------------------------------------

def status_line(event, started: float) -> str:
    rate = event.step / event.elapsed if event.elapsed > 0 else 0.0
    eta = (event.total - event.step) / rate if rate > 0 else 0.0
    memory = ""
    if torch.cuda.is_available():
        memory = f" · GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
    head = "**Done**" if event.done else f"Step **{event.step}/{event.total}**"
    text = (f"{head} · {rate:.2f} it/s · {time.monotonic() - started:.0f} s elapsed"
            f"{'' if event.done else f' · ETA {eta:.0f} s'} · {event.size[0]}×{event.size[1]} "
            f"(scale {event.scale}/{event.scales}) · {event.device}{memory}")
    if event.message:
        text += f"\n\n{event.message}"
    return text


def chart_rows(event, show_layers: bool) -> list[dict]:
    rows = [{"step": event.step, "loss": event.loss, "term": "total"},
            {"step": event.step, "loss": event.content_loss, "term": "content"},
            {"step": event.step, "loss": event.style_loss, "term": "style"},
            {"step": event.step, "loss": event.tv_loss, "term": "tv"}]
    if show_layers:
        rows += [{"step": event.step, "loss": v, "term": f"style {k}"} for k, v in event.style_layer_losses.items()]
    return rows


def write_png(image: Image.Image, recipe: dict) -> str:
    prune(OUTPUT_DIR, OUTPUT_MAX_AGE)  # outputs are for download now, not storage
    prune(FRAME_DIR, FRAME_MAX_AGE)
    folder = OUTPUT_DIR / uuid.uuid4().hex  # an unguessable path: the cache folder is served
    folder.mkdir(parents=True)
    path = folder / f"stylized-{uuid.uuid4().hex[:8]}.png"
    save_png(image, path, recipe)
    return str(path)


def gpu_duration(content, styles, settings: Settings, *args) -> int:
    """ZeroGPU seconds to reserve: generous for the size and steps asked for, within the job limit."""
    per_step = 0.004 * (settings.size / 512) ** 2 + 0.004
    return int(min(JOB_SECONDS, 20 + settings.iterations * per_step * 3))


def run_job(content: Image.Image, styles: list[Image.Image], settings: Settings, show_layers: bool,
            session: str) -> Iterator[tuple]:
    """Stream (image, status, chart, file) updates; only PIL images, text and frames leave it (ZeroGPU)."""
    started = time.monotonic()
    yield gr.skip(), "Loading the VGG weights (first run only, then they stay loaded)…", gr.skip(), gr.skip()
    backbone = resolve_backbone(settings)
    rows: list[dict] = []
    last_update = last_image = 0.0
    events = stylize_iter(content, styles, settings, backbone=backbone)
    try:
        for event in events:
            rows += chart_rows(event, show_layers)
            now = time.monotonic()
            if event.preview is not None:
                recipe = make_recipe(settings, content, styles, event.preview)
                remember(session, event.preview, recipe)
            if event.done:
                yield event.preview, status_line(event, started), pd.DataFrame(rows), write_png(event.preview, recipe)
            else:
                # On a GPU previews can come faster than a browser shows them: send the newest at most
                # every PREVIEW_INTERVAL, and never an image twice (a re-sent file breaks downloads).
                fresh_image = event.preview is not None and now - last_image >= PREVIEW_INTERVAL
                if fresh_image or now - last_update >= UPDATE_INTERVAL:
                    last_update = now
                    if fresh_image:
                        last_image = now
                    image = event.preview if fresh_image else gr.skip()
                    yield image, status_line(event, started), pd.DataFrame(rows), gr.skip()
    finally:
        events.close()


if spaces is not None:
    run_job = spaces.GPU(duration=gpu_duration)(run_job)


def stylize(content: Any, style: Any, iterations: float = DEFAULTS.iterations, size: float = DEFAULTS.size,
            style_2: Any = None, style_3: Any = None, blend: float = 1.0, blend_2: float = 1.0,
            blend_3: float = 1.0, style_weight_log10: float = math.log10(DEFAULTS.style_weight),
            content_weight_log10: float = math.log10(DEFAULTS.content_weight),
            tv_weight: float = DEFAULTS.tv_weight, content_layer: str = DEFAULTS.content_layer,
            style_layers: list[str] | None = None, layer_weights: str = "",
            optimizer: str = DEFAULTS.optimizer, init: str = DEFAULTS.init, seed: float = DEFAULTS.seed,
            preserve_color: str = DEFAULTS.preserve_color, style_scale: float = DEFAULTS.style_scale,
            weights: str | None = None, preview_every: float = DEFAULTS.preview_every,
            show_layer_losses: bool = False, request: gr.Request = None) -> Iterator[tuple]:
    """Stylize `content` in the style of `style` (and optionally style_2, style_3), streaming previews."""
    try:
        if content is None:
            raise NSTError("Add a content photo first.")
        if style is None:
            raise NSTError("Pick a style from the gallery or upload a painting.")
        given = [(s, b) for s, b in ((style, blend), (style_2, blend_2), (style_3, blend_3)) if s is not None]
        settings = build_settings(
            iterations, size, style_weight_log10=style_weight_log10, content_weight_log10=content_weight_log10,
            tv_weight=tv_weight, content_layer=content_layer,
            style_layers=DEFAULTS.style_layers if style_layers is None else style_layers,
            layer_weights=layer_weights, blends=[b for _, b in given], optimizer=optimizer, init=init,
            seed=seed, preserve_color=preserve_color, style_scale=style_scale,
            weights=weights or weights_choices()[0], preview_every=preview_every)
        content_img = decode_image(content)
        style_imgs = [decode_image(s) for s, _ in given]
        pick_device(settings.device)
    except NSTError as error:
        raise gr.Error(str(error), print_exception=False) from None
    session = getattr(request, "session_hash", None) or "anonymous"
    ticket = BOARD.join(session)
    if ticket is None:
        raise gr.Error("You already have a job running; stop it or wait for it to finish.", print_exception=False)
    try:
        while not BOARD.try_start(ticket):
            ahead = BOARD.ahead_of(ticket)
            yield gr.skip(), f"The studio is busy: {ahead} job{'s' if ahead != 1 else ''} ahead of yours…", \
                gr.skip(), gr.skip()
            time.sleep(0.25)
        yield from run_job(content_img, style_imgs, settings, bool(show_layer_losses), session)
    except NSTError as error:
        raise gr.Error(str(error), print_exception=False) from None
    finally:
        BOARD.leave(ticket)


def after_stop(request: gr.Request) -> tuple:
    """After Stop: the last image stays on screen; offer it as a PNG with its recipe."""
    last = LAST_RESULTS.get(getattr(request, "session_hash", None) or "anonymous")
    if last is None:
        return "Stopped.", gr.skip()
    image, recipe = last
    return "Stopped. The last image is kept; download it below.", write_png(image, recipe)


# --- recipes ---------------------------------------------------------------------------------------------

RESTORABLE = ("iterations", "size", "style_weight", "content_weight", "tv_weight", "content_layer", "style_layers",
              "optimizer", "init", "seed", "preserve_color", "style_scale", "preview_every")


def restore_recipe(file: Any) -> list:
    """A recipe PNG dropped in -> the controls it was made with (unknown or invalid values are left alone)."""
    recipe = read_recipe(file) if file else None
    values = (recipe or {}).get("settings")
    if not isinstance(values, dict):
        return [gr.skip()] * len(RESTORABLE) + ["That PNG carries no recipe (only images made here do)."]
    try:
        settings = Settings.from_dict({k: v for k, v in values.items() if k in RESTORABLE})
    except NSTError as error:
        return [gr.skip()] * len(RESTORABLE) + [f"The recipe could not be used: {error}"]
    updates = []
    for name in RESTORABLE:
        value = getattr(settings, name)
        if name in ("style_weight", "content_weight"):
            value = math.log10(value) if value > 0 else -3
        updates.append(list(value) if isinstance(value, tuple) else value)
    return updates + ["Settings restored from the recipe; add the photo and painting, then Run."]


# --- the page ------------------------------------------------------------------------------------------

def gallery_items() -> list[tuple[str, str]]:
    return [(str(s.path), s.title) for s in list_styles() if s.available]


def hint(name: str) -> str:
    return field_info(name)["help"]


def build_demo() -> gr.Blocks:
    gallery = gallery_items()
    with gr.Blocks(title="Neural Style Studio", delete_cache=(120, 600)) as demo:
        gr.Markdown("# Neural Style Studio\nUpload a photo, pick a painting, press **Run**, and watch gradient "
                    "descent repaint the photo step by step (Gatys et al.). Every knob is explained below it.")
        with gr.Row():
            with gr.Column(scale=1):
                content = UploadedImage(label="Your photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                                        elem_id="content", height=260)
                style = UploadedImage(label="Painting (pick below or upload)", type="filepath",
                                      sources=["upload", "clipboard"], elem_id="style", height=200)
                styles_gallery = gr.Gallery(value=gallery, label="Style gallery", columns=5, height=220,
                                            allow_preview=False, elem_id="gallery")
                with gr.Accordion("Blend up to three paintings", open=False):
                    blend = NumberSlider(0, 10, value=1, step=0.1, label="Weight of the first painting")
                    with gr.Row():
                        style_2 = UploadedImage(label="Second painting", type="filepath", height=140)
                        style_3 = UploadedImage(label="Third painting", type="filepath", height=140)
                    with gr.Row():
                        blend_2 = NumberSlider(0, 10, value=1, step=0.1, label="Weight of the second")
                        blend_3 = NumberSlider(0, 10, value=1, step=0.1, label="Weight of the third")
            with gr.Column(scale=1):
                result = StreamedImage(label="Result (updates live)", format="webp", interactive=False,
                                       elem_id="result", height=420)
                with gr.Row():
                    run_btn = gr.Button("Run", variant="primary", elem_id="run")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
                status = gr.Markdown("Ready.", elem_id="status")
                chart = gr.LinePlot(x="step", y="loss", color="term", title="Loss (lower is closer)", height=260,
                                    elem_id="chart")
                show_layers = gr.Checkbox(label="Show each style layer's loss", value=False)
                download = gr.File(label="Download the PNG (its recipe is stored inside)", elem_id="download",
                                   interactive=False)
        with gr.Row():
            with gr.Column():
                style_weight = NumberSlider(0, 4, value=math.log10(DEFAULTS.style_weight), step=0.1,
                                         label="Style weight (log10)", info=hint("style_weight"))
                content_weight = NumberSlider(-2, 2, value=math.log10(DEFAULTS.content_weight), step=0.1,
                                           label="Content weight (log10)", info=hint("content_weight"))
                iterations = NumberSlider(1, MAX_ITERATIONS, value=DEFAULTS.iterations, step=1, label="Iterations",
                                       info=hint("iterations"))
                size = NumberSlider(64, MAX_SIZE, value=min(DEFAULTS.size, MAX_SIZE), step=16, label="Output size (px)",
                                 info=hint("size"))
            with gr.Column():
                style_layers = gr.CheckboxGroup(list(LAYER_CHOICES), value=list(DEFAULTS.style_layers),
                                                label="Style layers", info=hint("style_layers"))
                content_layer = gr.Dropdown(list(LAYER_CHOICES), value=DEFAULTS.content_layer, label="Content layer",
                                            info=hint("content_layer"))
                preserve_color = gr.Radio(list(COLOR_MODES), value=DEFAULTS.preserve_color,
                                          label="Keep the photo's colours", info=hint("preserve_color"))
                style_scale = NumberSlider(0.25, 2.0, value=DEFAULTS.style_scale, step=0.05, label="Style scale",
                                        info=hint("style_scale"))
        with gr.Accordion("Advanced", open=False):
            with gr.Row():
                tv_weight = gr.Number(value=DEFAULTS.tv_weight, label="Total-variation weight", info=hint("tv_weight"))
                layer_weights = gr.Textbox("", label="Per-layer style weights", placeholder="relu1_1=2, relu5_1=0.5",
                                           info=hint("style_layer_weights"))
                optimizer = gr.Radio(list(OPTIMIZERS), value=DEFAULTS.optimizer, label="Optimiser",
                                     info=hint("optimizer"))
                init = gr.Radio(list(INITS), value=DEFAULTS.init, label="Start from", info=hint("init"))
            with gr.Row():
                # precision=0 would make Gradio round NaN/Inf into an unexplained error; Settings checks it.
                seed = gr.Number(value=DEFAULTS.seed, label="Seed", info=hint("seed"))
                weights = gr.Dropdown(weights_choices(), value=weights_choices()[0], label="Network weights",
                                      info=hint("weights"))
                preview_every = NumberSlider(1, 100, value=DEFAULTS.preview_every, step=1,
                                             label="Preview every N steps", info=hint("preview_every"))
            recipe_file = gr.File(label="Drop a recipe PNG here to restore its settings", file_types=[".png"],
                                  type="filepath", elem_id="recipe")

        if gallery:
            gr.Examples([[path] for path, _ in gallery[:4]], inputs=[style], label="Example paintings",
                        cache_examples=False)

        def pick_style(evt: gr.SelectData) -> str:
            return gallery[evt.index][0]

        styles_gallery.select(pick_style, None, style, api_visibility="private")
        inputs = [content, style, iterations, size, style_2, style_3, blend, blend_2, blend_3, style_weight,
                  content_weight, tv_weight, content_layer, style_layers, layer_weights, optimizer, init, seed,
                  preserve_color, style_scale, weights, preview_every, show_layers]
        outputs = [result, status, chart, download]
        run_event = run_btn.click(lambda: (gr.update(interactive=False), None), None, [run_btn, download],
                                  queue=False, api_visibility="private").then(
            stylize, inputs, outputs, api_name="stylize", concurrency_limit=8)
        run_event.then(lambda: gr.update(interactive=True), None, run_btn, api_visibility="private")
        stop_btn.click(None, None, None, cancels=[run_event], api_visibility="private").then(
            after_stop, None, [status, download], api_visibility="private").then(
            lambda: gr.update(interactive=True), None, run_btn, api_visibility="private")
        recipe_file.upload(restore_recipe, recipe_file,
                           [iterations, size, style_weight, content_weight, tv_weight, content_layer, style_layers,
                            optimizer, init, seed, preserve_color, style_scale, preview_every, status],
                           api_visibility="private")
    demo.queue(max_size=QUEUE_SIZE)
    return demo


demo = build_demo()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    demo.launch(max_file_size=f"{MAX_BYTES // (1024 * 1024)}mb", show_error=False,
                state_session_capacity=STATE_SESSIONS)
