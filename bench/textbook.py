"""The reference: a plain textbook Gatys loop (PyTorch tutorial style), fp32, raw losses.

Used by the benchmark (speed) and the quality check (same step budget, scored by one neutral measure).
It shares only the backbone with the engine: losses and the loop are written out here on purpose.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nst_core.backbones import VGGFeatures

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def _gram(f: torch.Tensor) -> torch.Tensor:
    n, c, h, w = f.shape
    flat = f.reshape(n * c, h * w)
    return flat @ flat.t() / (n * c * h * w)


def textbook_stylize(model: VGGFeatures, content: torch.Tensor, style: torch.Tensor, *, evaluations: int,
                     style_weight: float = 1e6, content_weight: float = 1.0, clamp: bool = False) -> torch.Tensor:
    """L-BFGS from the content image on MSE content loss + weighted Gram MSE style loss, `evaluations` budget.

    `clamp`: keep the pixels in [0, 1] at every evaluation, as the PyTorch tutorial does. Without it the loop
    diverged to a black (NaN) image on tubingen + starry_night; the speed benchmarks time the bare loop."""
    wanted = {CONTENT_LAYER, *STYLE_LAYERS}
    with torch.no_grad():
        target_content = model(content, wanted)[CONTENT_LAYER]
        style_feats = model(style, wanted)
        target_grams = {n: _gram(style_feats[n]) for n in STYLE_LAYERS}
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image], max_iter=evaluations, max_eval=evaluations)

    def closure() -> torch.Tensor:
        if clamp:
            with torch.no_grad():
                image.clamp_(0, 1)
        optimizer.zero_grad()
        feats = model(image, wanted)
        loss = content_weight * F.mse_loss(feats[CONTENT_LAYER], target_content)
        for name in STYLE_LAYERS:
            loss = loss + style_weight * F.mse_loss(_gram(feats[name]), target_grams[name]) / len(STYLE_LAYERS)
        loss.backward()
        return loss

    optimizer.step(closure)
    return image.detach().clamp(0, 1)
