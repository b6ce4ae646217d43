"""How a person would judge a stylized picture, as numbers: two opposing measures and two defects.

- style distance: how far the result's VGG features are from the painting's, as a sliced Wasserstein
  distance at relu1_1..relu4_1 (64 seeded directions per layer, not the sliced loss's; quantile-matched so
  different pixel counts compare), divided by the same distance for the unstyled photo: 1 = no style, 0 = the
  painting's feature statistics. It is computed on the network as trained (max pooling, zero padding), so
  it favours no loss, layer weighting or border the engine optimises with.
- colour distance: Hellinger distance between the 8x8x8-bin RGB histograms of result and painting (0..1).
- structure kept: correlation between the gradient magnitude of the blurred luminance (sigma 2 px at 256 px)
  of result and photo. Fine brushwork barely moves it; a motif painted over the subject, or the subject
  dissolving, pulls it down.
- speckle: fine-grain energy of the result (luminance minus its 1 px blur) over the painting's at the same
  size: above 1, grain the painting does not have.
- border band: mean absolute difference, in percent of full scale, between the outermost 3 pixel rows (or
  columns) and the 3 inside them: a band along an edge that the photo does not have.

It knows images and a backbone; nothing of the engine's settings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from nst_core.backbones import VGGFeatures

MEASURE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
DIRECTIONS = 64
QUANTILES = 1024
MEASURE_SEED = 20_261  # not the sliced loss's seed: the measure must not be the objective
BAND = 3  # pixels


class Judge:
    """Scores results against their photo and painting on one backbone (max pooling: as trained)."""

    def __init__(self, net: VGGFeatures) -> None:
        self.net = net
        self.directions: dict[str, torch.Tensor] = {}

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {k: v.float() for k, v in self.net(image, frozenset(MEASURE_LAYERS)).items()}

    def quantiles(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        """(1, C, H, W) -> (DIRECTIONS, QUANTILES): the sorted projections, read at evenly spaced ranks."""
        channels = features.shape[1]
        if layer not in self.directions:
            generator = torch.Generator().manual_seed(MEASURE_SEED + channels)
            directions = torch.randn(channels, DIRECTIONS, generator=generator)
            self.directions[layer] = directions / directions.norm(dim=0, keepdim=True)
        projected = (self.directions[layer].T @ features[0].reshape(channels, -1)).sort(dim=1).values
        return F.interpolate(projected[None], size=QUANTILES, mode="linear", align_corners=False)[0]

    def style_distance(self, image: torch.Tensor, photo: torch.Tensor, painting: torch.Tensor) -> float:
        """Sliced Wasserstein distance to the painting, relative to the photo's (mean over the layers)."""
        result, before, target = self.features(image), self.features(photo), self.features(painting)
        ratios = []
        for layer in MEASURE_LAYERS:
            goal = self.quantiles(target[layer], layer)
            distance = (self.quantiles(result[layer], layer) - goal).pow(2).mean().sqrt()
            unstyled = (self.quantiles(before[layer], layer) - goal).pow(2).mean().sqrt()
            ratios.append((distance / unstyled).item())
        return sum(ratios) / len(ratios)


def colour_distance(image: torch.Tensor, painting: torch.Tensor, bins: int = 8) -> float:
    """Hellinger distance between the RGB histograms of two (1, 3, H, W) images in [0, 1]."""
    def histogram(x: torch.Tensor) -> torch.Tensor:
        index = (x[0].clamp(0, 1) * (bins - 1e-6)).long().reshape(3, -1)
        flat = (index[0] * bins + index[1]) * bins + index[2]
        counts = torch.bincount(flat, minlength=bins**3).double()
        return counts / counts.sum()

    overlap = (histogram(image) * histogram(painting)).sqrt().sum()
    return float((1 - overlap).clamp_min(0).sqrt())


def luminance(image: torch.Tensor) -> torch.Tensor:
    return (image[:, :1] * 0.299 + image[:, 1:2] * 0.587 + image[:, 2:3] * 0.114).clamp(0, 1)


def gradient_magnitude(image: torch.Tensor, sigma: float) -> torch.Tensor:
    size = 2 * round(3 * sigma) + 1
    lum = gaussian_blur(luminance(image), [size, size], [sigma, sigma])
    dx = lum[..., 1:-1, 2:] - lum[..., 1:-1, :-2]
    dy = lum[..., 2:, 1:-1] - lum[..., :-2, 1:-1]
    return (dx.pow(2) + dy.pow(2)).sqrt()


def structure_kept(image: torch.Tensor, photo: torch.Tensor) -> float:
    """Correlation of the blurred-luminance gradient magnitudes of result and photo (1 = same structure)."""
    sigma = 2.0 * max(photo.shape[-2:]) / 256
    a, b = gradient_magnitude(image, sigma).flatten(), gradient_magnitude(photo, sigma).flatten()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm() + 1e-12))


def fine_energy(image: torch.Tensor) -> float:
    lum = luminance(image)
    return float((lum - gaussian_blur(lum, [5, 5], [1.0, 1.0])).pow(2).mean())


def speckle(image: torch.Tensor, painting: torch.Tensor) -> float:
    """Fine-grain energy of the result over the painting's (painting resized to the result's size)."""
    reference = F.interpolate(painting, size=image.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
    return fine_energy(image) / max(fine_energy(reference), 1e-12)


def border_bands(image: torch.Tensor) -> dict[str, float]:
    """Per edge: mean |outer BAND rows - the BAND rows inside them|, in percent of full scale."""
    x = image[0]
    edges = {
        "top": (x[:, :BAND], x[:, BAND:2 * BAND], 1),
        "bottom": (x[:, -BAND:], x[:, -2 * BAND:-BAND], 1),
        "left": (x[:, :, :BAND], x[:, :, BAND:2 * BAND], 2),
        "right": (x[:, :, -BAND:], x[:, :, -2 * BAND:-BAND], 2),
    }
    return {name: float((outer.mean(dim) - inner.mean(dim)).abs().mean() * 100)
            for name, (outer, inner, dim) in edges.items()}


def judge(judge_net: Judge, image: torch.Tensor, photo: torch.Tensor, painting: torch.Tensor) -> dict[str, float]:
    """Every measure of one result (1, 3, H, W) against its photo and painting (the painting at the result's
    longest side, as the engine uses it)."""
    bands = border_bands(image)
    return {
        "style": judge_net.style_distance(image, photo, painting),
        "colour": colour_distance(image, painting),
        "structure": structure_kept(image, photo),
        "speckle": speckle(image, painting),
        "top_band": bands["top"],
        "edge_band": sum(bands.values()) / len(bands),
    }
