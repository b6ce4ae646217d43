"""Colour control from Gatys et al. 2016, "Controlling Perceptual Factors in Neural Style Transfer".

Two ways to keep the photo's colours: transfer only luminance (style and content reduced to their
brightness, the output's brightness recombined with the photo's chroma), or recolour the painting to the
photo's colour statistics before transfer (mean and covariance matching). Tensors: (1, 3, H, W) in [0, 1].
"""

from __future__ import annotations

import torch

# RGB -> YIQ (NTSC); Y is luminance, I and Q carry the colour.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YIQ.to(image), image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YIQ).to(image), image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The brightness as a grey three-channel image."""
    return rgb_to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's grey brightness, shifted and scaled to the content's brightness mean and spread."""
    ys, yc = rgb_to_yiq(style)[:, :1], rgb_to_yiq(content)[:, :1]
    matched = (ys - ys.mean()) / (ys.std() + 1e-6) * yc.std() + yc.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def recombine_luminance(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylized image's brightness with the content's colour (I and Q channels)."""
    yiq = rgb_to_yiq(content)
    yiq = torch.cat([rgb_to_yiq(stylized)[:, :1], yiq[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)


def match_color(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style recoloured so its pixels have the content's colour mean and covariance."""
    def stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = image[0].reshape(3, -1).double()
        mean = pixels.mean(1, keepdim=True)
        centred = pixels - mean
        regulariser = 1e-5 * torch.eye(3, dtype=torch.float64, device=pixels.device)
        return mean, centred @ centred.T / pixels.shape[1] + regulariser

    def sqrtm(matrix: torch.Tensor, power: float) -> torch.Tensor:
        values, vectors = torch.linalg.eigh(matrix)
        return vectors @ torch.diag(values.clamp_min(1e-10) ** power) @ vectors.T

    mean_s, cov_s = stats(style)
    mean_c, cov_c = stats(content)
    transform = sqrtm(cov_c, 0.5) @ sqrtm(cov_s, -0.5)
    pixels = style[0].reshape(3, -1).double()
    recoloured = transform @ (pixels - mean_s) + mean_c
    return recoloured.reshape(style.shape).to(style.dtype).clamp(0, 1)
