"""A neutral quality measure shared by the quality test and the end-to-end benchmark.

Both the engine and the textbook loop are scored on the network as trained (max pooling): the mean
relative Gram error over the style layers, and the relative relu4_2 error against the photo. Lower is better.
"""

from __future__ import annotations

import torch

from nst_core.backbones import VGGFeatures
from nst_core.losses import GramLoss, content_loss

from .textbook import CONTENT_LAYER, STYLE_LAYERS


def neutral_score(net: VGGFeatures, image: torch.Tensor, content: torch.Tensor,
                  style: torch.Tensor) -> tuple[float, float]:
    """(style error, content error) of `image`, each relative to its target's size."""
    wanted = {CONTENT_LAYER, *STYLE_LAYERS}
    with torch.no_grad():
        f, fc, fs = net(image, wanted), net(content, wanted), net(style, wanted)
        gram_error = GramLoss()
        style_term = sum(gram_error(f[n], gram_error.target([fs[n]], [1.0])).item() for n in STYLE_LAYERS)
        style_term /= len(STYLE_LAYERS)
        return style_term, content_loss(f[CONTENT_LAYER], fc[CONTENT_LAYER]).item()
