"""Colour control: recolouring a painting to the photo's colour statistics (mean and covariance matching)."""

import torch

from nst_core.color import match_color
from nst_core.images import to_tensor

from .conftest import gradient_image


def colour_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean colour (3,) and the 3x3 colour covariance of a (1, 3, H, W) image's pixels."""
    pixels = image[0].reshape(3, -1).double()
    return pixels.mean(1), torch.cov(pixels, correction=0)


def test_match_color_gives_the_painting_the_photos_colour_mean_and_covariance():
    painting = to_tensor(gradient_image(64, 48, seed=2).rotate(90))
    # A warm, low-contrast photo with its channels mixed: its covariance has strong off-diagonal terms.
    mix = torch.tensor([[0.5, 0.2, 0.0], [0.3, 0.4, 0.0], [0.1, 0.1, 0.2]])
    photo = torch.einsum("ij,njhw->nihw", mix, to_tensor(gradient_image(80, 60, seed=1))) + 0.15
    assert photo.min() >= 0 and photo.max() <= 1

    recoloured = match_color(painting, photo)
    assert recoloured.shape == painting.shape and recoloured.dtype == painting.dtype
    assert recoloured.min() >= 0 and recoloured.max() <= 1
    mean, cov = colour_stats(recoloured)
    target_mean, target_cov = colour_stats(photo)
    before_mean, before_cov = colour_stats(painting)
    # It moved far (the painting's own statistics are nowhere near), and landed on the photo's.
    assert (before_mean - target_mean).abs().max() > 0.1 and (before_cov - target_cov).abs().max() > 0.01
    assert torch.allclose(mean, target_mean, atol=0.01), (mean, target_mean)
    assert torch.allclose(cov, target_cov, atol=0.05 * target_cov.abs().max().item()), (cov, target_cov)
    # Only the colours changed: each pixel maps by one affine colour transform, so the layout survives.
    brightness = lambda image: image.mean(1).flatten()  # noqa: E731
    assert torch.corrcoef(torch.stack([brightness(painting), brightness(recoloured)]))[0, 1].abs() > 0.9
