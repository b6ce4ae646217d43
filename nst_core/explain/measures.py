"""The numbers the teaching views show: how far two images are apart, pixel by pixel and in the network's eyes.

Every distance uses the engine's own relative losses (nst_core.losses), so "0" means identical and "about 1"
means unrelated, whatever the network or the image size.
"""

from __future__ import annotations

import math

import torch
from PIL import Image

from ..features import FeatureExtractor
from ..images import resize_to, to_tensor
from ..losses import GramLoss, content_loss

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # Gatys et al.'s style layers
CONTENT_LAYER = "relu4_2"  # "what is in the picture", measured at Gatys et al.'s content layer
STYLE_LOSS = "gram"  # the views teach Gatys et al.'s Gram matrices, whatever the Stylize tab's default loss


def pixel_rmse(image: Image.Image, reference: Image.Image) -> float:
    """Root-mean-square pixel difference on a 0..1 scale (0 = identical, ~0.4 = unrelated)."""
    a, b = to_tensor(image), to_tensor(resize_to(reference, image.size))
    return (a - b).pow(2).mean().sqrt().item()


def psnr(rmse: float) -> float:
    """Peak signal-to-noise ratio in dB: above ~25 dB a picture looks like the original."""
    return 20 * math.log10(1.0 / max(rmse, 1e-6))


class Yardstick:
    """Distances between images as a frozen network sees them, measured at the same size for every image."""

    def __init__(self, extractor: FeatureExtractor, size: tuple[int, int]) -> None:
        self.extract = extractor
        self.size = size
        self.gram = GramLoss()

    def features(self, image: Image.Image, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        tensor = to_tensor(resize_to(image, self.size)).to(self.extract.device)
        with torch.no_grad():
            return {name: value.float() for name, value in self.extract(tensor, layers).items()}

    def content_distance(self, image: Image.Image, reference: Image.Image, layer: str = CONTENT_LAYER) -> float:
        """How different the two pictures' contents are at `layer` (relative squared feature error)."""
        a, b = self.features(image, (layer,))[layer], self.features(reference, (layer,))[layer]
        return content_loss(a, b).item()

    def gram_distance(self, image: Image.Image, reference: Image.Image,
                      layers: tuple[str, ...] = STYLE_LAYERS) -> float:
        """How different the two pictures' styles are: the Gram loss averaged over `layers`."""
        a, b = self.features(image, layers), self.features(reference, layers)
        values = [self.gram(a[name], self.gram.target([b[name]], [1.0])).item() for name in layers]
        return sum(values) / len(values)
