"""Painting the regions on the photo in the browser (issue 23): a brush per region, an eraser, one-click presets.

The editor is only a way to make a region map: what it paints becomes the Regions section's map and its "what
paints each colour" text, the same two values the API takes, so a painted run and an API run are one path. A
preset (nst_core.region_presets) is a starting map that strokes are painted over: the editor shows it as a tint
on the photo, and a stroke wins over it wherever one was painted.

Gradio's editor does not reliably show layers sent from the server (gradio-app/gradio #7200, #7522), so a preset
travels as that tint in the editor's background and as labels in a State, never as a layer.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, ImageFilter

from nst_core import NSTError
from nst_core.images import decode_image
from nst_core.region_presets import MAIN, PRESETS, SECOND, preset_labels

# One brush a label (MAIN, SECOND, THIRD, KEEP in order): its colour on the canvas and in the map, what paints it.
BRUSHES = (("#a855f7", "painting 1"), ("#3b82f6", "painting 2"), ("#f97316", "painting 3"), ("#22c55e", "photo"))
PALETTE = np.array([[int(colour[i:i + 2], 16) for i in (1, 3, 5)] for colour, _ in BRUSHES], dtype=np.int32)
BRUSH_OPACITY = 0.6  # the photo shows through a stroke, so the user sees what they paint over
PRESET_TINT = 0.45  # a preset's regions over the photo, a little lighter than a stroke
EDITOR_SIDE = 512  # the editor's picture (longest side): the map needs the photo's shape, not its pixels
STROKE_ALPHA = 40  # of 255: fainter pixels are a stroke's antialiased edge, not paint
BRUSH_NOTE = ("Paint on the photo: **purple** the first painting (it paints everywhere not painted), **blue** "
              "painting 2, **orange** painting 3 (pick them from the gallery with *A gallery pick becomes*, or "
              "upload them under *Blend up to three paintings*), **green** keeps the photo. The eraser takes a "
              "stroke back. Or start from a preset and correct it.")
PRESET_NOTES = {
    "keep the subject": "The middle of the photo keeps the photo (green): paint green over your subject's whole "
                        "shape, purple over what is not the subject.",
    "sky only": "The first painting paints the sky; the rest keeps the photo (green). Correct the edge with the "
                "brushes.",
    "split at the horizon": "The first painting above the horizon, painting 2 (blue) below it.",
}
NO_SECOND = (" Add a second painting (a gallery pick with *A gallery pick becomes: painting 2*, or under *Blend up "
             "to three paintings*): the blue part is painted by it.")


def editor_photo(photo: Image.Image) -> Image.Image:
    small = photo.convert("RGB")
    small.thumbnail((EDITOR_SIDE, EDITOR_SIDE), Image.Resampling.LANCZOS)
    return small


def tinted(photo: Image.Image, labels: np.ndarray | None) -> Image.Image:
    """The editor's picture: the photo, with a preset's regions (all but the first painting's) tinted over it."""
    if labels is None:
        return photo
    pixels = np.asarray(photo, dtype=np.float32)
    painted = (labels != MAIN)[..., None]
    mixed = np.where(painted, (1 - PRESET_TINT) * pixels + PRESET_TINT * PALETTE[labels], pixels)
    return Image.fromarray(mixed.round().astype(np.uint8))


def painted_labels(size: tuple[int, int], base: np.ndarray | None, layers: list[Image.Image]) -> np.ndarray:
    """The labels the editor shows: the preset's (or the first painting's everywhere), with each stroke's brush
    where it was painted (later layers over earlier ones)."""
    labels = np.full((size[1], size[0]), MAIN, dtype=np.int64) if base is None else base.astype(np.int64)
    for layer in layers:
        rgba = np.asarray(layer.convert("RGBA").resize(size, Image.Resampling.NEAREST), dtype=np.int32)
        stroke = rgba[..., 3] >= STROKE_ALPHA
        nearest = np.argmin(((rgba[..., None, :3] - PALETTE) ** 2).sum(-1), axis=-1)
        labels = np.where(stroke, nearest, labels)
    return labels


def map_values(labels: np.ndarray) -> tuple[Image.Image | None, str]:
    """Labels -> the Regions section's map and text; (None, "") where only the first painting paints."""
    if not (labels != MAIN).any():
        return None, ""
    named = [f"{BRUSHES[label][0]}={BRUSHES[label][1]}" for label in range(len(BRUSHES))
             if label != MAIN and (labels == label).any()]
    return Image.fromarray(PALETTE[labels].astype(np.uint8)), ", ".join(named)


def outlined(picture: Image.Image, labels: np.ndarray) -> Image.Image:
    """`picture` with the borders between its regions drawn over it (the preview's overlay): a white line about
    1/250 of the picture's longest side wide, so it shows on a dark painting and a light one alike."""
    at_size = np.asarray(Image.fromarray(labels.astype(np.uint8)).resize(picture.size, Image.Resampling.NEAREST))
    border = np.zeros(at_size.shape, dtype=bool)
    border[:, 1:] |= at_size[:, 1:] != at_size[:, :-1]
    border[1:] |= at_size[1:] != at_size[:-1]
    line = Image.fromarray(border.astype(np.uint8) * 255)
    width = max(1, round(max(picture.size) / 250))
    if width > 1:
        line = line.filter(ImageFilter.MaxFilter(2 * (width // 2) + 1))
    shown = picture.convert("RGB")
    shown.paste((255, 255, 255), mask=line)
    return shown


def editor_value(background: Image.Image | None) -> dict[str, Any] | None:
    return None if background is None else {"background": background, "layers": [], "composite": None}


class RegionBrushes:
    """The editor, its presets and its note, inside the Stylize tab's Regions section."""

    def layout(self) -> None:
        gr.Markdown(BRUSH_NOTE)
        with gr.Row():
            self.presets = [gr.Button(name.capitalize(), size="sm", elem_id=f"preset-{name.replace(' ', '-')}")
                            for name in PRESETS]
            self.clear = gr.Button("Clear the regions", size="sm", elem_id="regions-clear")
        self.note = gr.Markdown("", elem_id="regions-note")
        self.editor = gr.ImageEditor(
            label="Paint the regions", type="pil", format="png", sources=(), transforms=(), height=420,
            layers=gr.LayerOptions(allow_additional_layers=False, layers=["Regions"]),
            brush=gr.Brush(colors=[(colour, BRUSH_OPACITY) for colour, _ in BRUSHES], color_mode="fixed",
                           default_color=(BRUSHES[-1][0], BRUSH_OPACITY)),
            eraser=gr.Eraser(), elem_id="region-editor", buttons=[])
        # The preset under the strokes (labels at the editor's size), and whether the map below came from here:
        # a map the user uploaded is theirs, and is never cleared by the editor.
        self.base = gr.State(None)
        self.painted = gr.State(False)

    def wire(self, photo: gr.components.Component, second: gr.components.Component,
             region_map: gr.components.Component, region_paintings: gr.components.Component) -> None:
        private = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
        outputs = [self.editor, self.base, self.painted, region_map, region_paintings, self.note]

        def fresh_canvas(value: Any, painted: bool) -> tuple:
            """A new photo, or Clear: a bare canvas; a map painted here goes with it (an uploaded one stays)."""
            try:
                background = editor_photo(decode_image(value)) if value is not None else None
            except NSTError:
                background = None  # the upload's own check has said why
            cleared = (None, "") if painted else (gr.skip(), gr.skip())
            return editor_value(background), None, False, *cleared, ""

        photo.change(fresh_canvas, [photo, self.painted], outputs, **private)
        self.clear.click(fresh_canvas, [photo, self.painted], outputs, **private)

        def strokes(value: Any, base: np.ndarray | None, painted: bool) -> tuple:
            background = (value or {}).get("background")
            labels = None
            if background is not None:
                labels = painted_labels(background.size, base, [layer for layer in value.get("layers") or [] if layer])
            if labels is None or not (painted or (labels != MAIN).any()):
                return gr.skip(), gr.skip(), gr.skip()  # nothing painted here: leave an uploaded map alone
            return (*map_values(labels), True)

        # The map follows the strokes as they are painted, and is read again at Run: Gradio 6.31's editor skips the
        # first change after it is shown (its page's handler ignores the first call), so the map below can lag a
        # stroke, and a run must use what is on the canvas.
        self.before_run = (strokes, [self.editor, self.base, self.painted],
                           [region_map, region_paintings, self.painted])
        self.editor.change(*self.before_run, **private)
        region_map.upload(lambda: False, None, self.painted, **private)

        for name, button in zip(PRESETS, self.presets):
            def preset(value: Any, second_value: Any, name: str = name) -> tuple:
                try:
                    small = editor_photo(decode_image(value)) if value is not None else None
                except NSTError:
                    small = None
                if small is None:
                    return (*[gr.skip()] * 5, "Add a content photo first: a preset is drawn over it.")
                labels = preset_labels(name, small)
                note = PRESET_NOTES[name] + (NO_SECOND if (labels == SECOND).any() and second_value is None else "")
                return (editor_value(tinted(small, labels)), labels, True, *map_values(labels), note)

            button.click(preset, [photo, second], outputs, **private)
