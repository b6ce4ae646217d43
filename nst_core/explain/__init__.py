"""The teaching views: why style transfer works, shown on the class's own photo and painting.

Each view is a generator of `ViewEvent`s (panels filling in, numbers, a status line), built only on the
engine's public seams: `features` (activations, Gram matrices), `losses`, and `engine.stylize_iter` for every
picture grown by optimisation. `python -m nst_core.explain VIEW ...` writes one PNG per panel. Nothing here
knows about Gradio.

    layers       what each layer sees: strongest feature maps, the Gram matrix, one channel over the picture
    channel      what a channel looks for: a picture grown to excite it (feature visualisation)
    reconstruct  content from each layer: the photo rebuilt from noise (Gatys et al., figure 1, top)
    texture      style from growing sets of layers: texture from noise (figure 1, bottom)
    shuffle      style forgets layout: a tile-shuffled painting keeps its Gram matrices
    compare      why a trained network: the same job on a random network
    grid         the knobs: style weight against content layer or style layers (figure 3)
"""

from __future__ import annotations

from .captions import CAPTIONS, GRAM, THIRD_IMAGE
from .channel import visualise
from .events import Panel, ViewEvent
from .knobs import compare, grid
from .layers import layers
from .synthesis import reconstruct, shuffle, texture

VIEWS = {"layers": layers, "channel": visualise, "reconstruct": reconstruct, "texture": texture,
         "shuffle": shuffle, "compare": compare, "grid": grid}
# The pictures each view takes first, in order (channel's photo is optional: it shows where the channel fires).
INPUTS = {"layers": ("image",), "channel": ("photo",), "reconstruct": ("photo",), "texture": ("painting",),
          "shuffle": ("painting",), "compare": ("photo", "painting"), "grid": ("photo", "painting")}

__all__ = ["CAPTIONS", "GRAM", "INPUTS", "THIRD_IMAGE", "VIEWS", "Panel", "ViewEvent"]
