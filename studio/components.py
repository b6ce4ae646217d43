"""Gradio components hardened for a public server: uploads decoded by the engine (and paintings named from the
gallery), numbers checked with a sentence that names the control.

Each is a subclass rendered by the stock component in the browser (`is_template`): only what the server does
with a value changes.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import gradio as gr
from gradio.components.image import ImageData
from gradio.data_classes import GradioRootModel

from nst_core import NSTError
from nst_core.gallery import get_style, list_styles
from nst_core.images import MAX_BYTES, decode_image

SMALL_SIDE = 64  # px: a picture whose longer side is shorter shows the network almost nothing


def undecoded(payload: Any) -> str | bytes | None:
    """An image upload as raw bytes or a path, for nst_core.images to decode.

    Gradio would open uploads with every Pillow plugin (no allowlist) and accept inline data: URLs of
    any size; nst_core.images decodes them instead, with an allowlist and size caps.
    """
    if payload is None:
        return None
    url = getattr(payload, "url", None) or ""
    if url.startswith("data:"):
        encoded = url.partition(",")[2]
        if len(encoded) > MAX_BYTES * 4 // 3 + 4:
            raise gr.Error(f"The image is too large: at most {MAX_BYTES // (1024 * 1024)} MB is accepted.",
                           print_exception=False)
        try:
            return base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            raise gr.Error("The image data is not valid base64.", print_exception=False) from None
    if getattr(payload, "path", None) is None:
        raise gr.Error("No image was received.", print_exception=False)
    return payload.path


# Each component below subclasses a stock one directly: with `is_template`, Gradio renders a subclass with its
# parent's browser code, and a grandchild would ask the browser for a custom component that does not exist.

class UploadedImage(gr.Image):
    """A gr.Image whose upload reaches the handler undecoded (see `undecoded`)."""

    is_template = True

    def preprocess(self, payload: Any) -> str | bytes | None:
        return undecoded(payload)


class ImageOrName(GradioRootModel):
    root: ImageData | str


class PaintingImage(gr.Image):
    """An UploadedImage that also takes the name of a gallery style (through the API: "starry_night").

    Gradio checks a value against the component's data model before `preprocess`, and a plain string failed
    there with its generic "upstream app has raised an exception". A name is only ever looked up in the
    gallery's manifest, never opened as a path.
    """

    is_template = True
    data_model = ImageOrName

    def api_info(self) -> dict[str, Any]:
        names = ", ".join(s.name for s in list_styles() if s.available)
        name = {"type": "string", "description": f"the name of a gallery style: {names}"}
        return {"anyOf": [ImageData.model_json_schema(), name]}

    def preprocess(self, payload: Any) -> str | bytes | None:
        value = getattr(payload, "root", payload)
        if not isinstance(value, str):
            return undecoded(value)
        # The names offered are those this server has (the engine's own list names paintings it could download).
        names = ", ".join(s.name for s in list_styles() if s.available)
        try:
            style = get_style(value)
        except NSTError:
            raise gr.Error(f"There is no gallery style called '{value[:60]}'; choose one of: {names}.",
                           print_exception=False) from None
        if not style.available:
            raise gr.Error(f"The painting '{style.title}' is not available on this server; choose one of: {names}.",
                           print_exception=False)
        return str(style.path)


class NumberSlider(gr.Slider):
    """A gr.Slider that answers a non-number, NaN or a value out of range with a sentence naming the control.

    Gradio's own check let NaN through, said "Value 5000 is greater than maximum value 1024" without saying
    which value, and failed with no message at all on text.
    """

    is_template = True

    def preprocess(self, payload: Any) -> float:
        if isinstance(payload, bool) or not isinstance(payload, (int, float)):
            raise gr.Error(f"{self.label} must be a number, not {str(payload)[:40]!r}.", print_exception=False)
        if not math.isfinite(payload):
            raise gr.Error(f"{self.label} must be a finite number, not {payload}.", print_exception=False)
        if not self.minimum <= payload <= self.maximum:
            raise gr.Error(f"{self.label} must be between {self.minimum:g} and {self.maximum:g} here, not {payload:g}.",
                           print_exception=False)
        return super().preprocess(payload)


def upload_verdict(payload: Any, what: str) -> tuple[bool, str | None]:
    """An uploaded picture as it arrives: (whether to keep it, the sentence to show or None). A file that is not a
    picture we accept (a text file renamed .jpg showed as a broken-image sliver) or is too large is not kept; a
    tiny one (a 1x1 PNG ran into a near-copy of the painting without a word) is kept, with a warning."""
    try:
        image = decode_image(payload)
    except NSTError as error:
        return False, str(error)
    width, height = image.size
    if max(width, height) < SMALL_SIDE:
        return True, (f"The {what} is only {width}×{height} pixels, too small to show the network much; one at least "
                      f"{SMALL_SIDE} pixels across works far better.")
    return True, None


def check_uploads(image: gr.Image, what: str, status: gr.components.Component | None = None, *,
                  reported_elsewhere: bool = False) -> None:
    """Check each picture uploaded to `image` at once (see `upload_verdict`): one that is not kept empties the box.
    The sentence goes to a toast and to `status`, if given; `reported_elsewhere`: another of the box's events says
    why a picture is unusable (the Fast tab stylizes each photo as it arrives), so only a tiny one is told here."""

    def check(payload: Any) -> Any:
        keep, sentence = upload_verdict(payload, what) if payload is not None else (True, None)
        if sentence is not None and (keep or not reported_elsewhere):
            gr.Warning(sentence)
        box = gr.skip() if keep else None
        return box if status is None else (box, sentence or gr.skip())

    image.upload(check, image, image if status is None else [image, status], show_progress="hidden",
                 api_visibility="private")


def gallery_items() -> list[tuple[str, str]]:
    """The gallery's paintings available on this server, as (path, title): a style gallery's value."""
    return [(str(s.path), s.title) for s in list_styles() if s.available]
