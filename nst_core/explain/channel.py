"""What a channel looks for: a picture grown from noise to make one feature map fire as hard as it can.

This is feature visualisation (Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017): plain
gradient ascent on pixels gives high-frequency noise that fools the network, so, as they did, the picture is
described by its Fourier coefficients scaled down with frequency (smooth pictures are as easy to reach as
noisy ones), its colours are mixed through natural images' colour correlations, and every step sees the
picture jittered and slightly rescaled, so only patterns that excite the channel wherever they sit survive.

It is its own small loop (gradient ascent on one channel, Adam), not the style-transfer objective.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from PIL import Image

from ..backbones import VGGFeatures, load_backbone
from ..config import default_weights
from ..errors import SettingsError
from ..features import FeatureExtractor, pick_device
from ..images import ImageSource, decode_image, fitted_size, resize_to, to_pil, to_tensor
from . import render
from .events import Sheet, ViewEvent

# The square root of the colour covariance of ImageNet photos, as published with Olah et al.'s lucid library:
# a step along one of its columns changes colours the way natural images vary, not R, G and B on their own.
COLOUR_ROOT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOUR_MIX = COLOUR_ROOT / COLOUR_ROOT.norm(dim=0).max()
JITTER = 8  # pixels the picture is shifted by, at most, each step
SCALES = (0.92, 1.08)  # and the range it is rescaled in
LEARNING_RATE = 0.05
PREVIEWS = 24  # pictures sent during a run


class SpectralImage:
    """A picture held as Fourier coefficients, each scaled by 1/frequency, and decorrelated colours."""

    def __init__(self, height: int, width: int, generator: torch.Generator, device: torch.device) -> None:
        fy = torch.fft.fftfreq(height).view(-1, 1)
        fx = torch.fft.rfftfreq(width).view(1, -1)
        frequency = (fy**2 + fx**2).sqrt().clamp(min=1.0 / max(height, width))
        self.scale = (1.0 / frequency).to(device)  # every scale gets the same share of the picture's energy
        self.size = (height, width)
        self.coefficients = (torch.randn((2, 3, height, width // 2 + 1), generator=generator) * 0.01).to(device)
        self.coefficients.requires_grad_(True)
        self.mix = COLOUR_MIX.to(device)

    def __call__(self) -> torch.Tensor:
        """The (1, 3, H, W) picture in (0, 1)."""
        spectrum = torch.complex(self.coefficients[0], self.coefficients[1]) * self.scale
        pixels = torch.fft.irfft2(spectrum, s=self.size, norm="ortho") / 4.0
        colours = torch.einsum("ij,jhw->ihw", self.mix, pixels)
        return torch.sigmoid(colours).unsqueeze(0)


def jittered(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """`image` shifted by up to JITTER pixels and rescaled a little, at random (what the network sees this step)."""
    height, width = image.shape[-2:]
    padded = F.pad(image, (JITTER,) * 4, mode="reflect")
    dy, dx = torch.randint(0, 2 * JITTER + 1, (2,), generator=generator).tolist()
    shifted = padded[..., dy:dy + height, dx:dx + width]
    factor = SCALES[0] + (SCALES[1] - SCALES[0]) * torch.rand((), generator=generator).item()
    return F.interpolate(shifted, scale_factor=factor, mode="bilinear", align_corners=False)


def visualise(photo: ImageSource | None = None, *, layer: str = "relu3_1", channel: int | None = None,
              size: int = 128, steps: int = 96, seed: int = 0, weights: str | None = None,
              backbone: VGGFeatures | None = None) -> Iterator[ViewEvent]:
    """Grow, from faint noise, a picture that makes `channel` of `layer` fire; with a photo, show where it fires.

    With no channel given: the one that fires most over the photo (channel 0 without a photo).
    """
    model = backbone or load_backbone(weights or default_weights())
    count = model.channels(layer)
    if not 32 <= size <= 512:
        raise SettingsError(f"The picture's size must be between 32 and 512 px, not {size}.")
    extract = FeatureExtractor(model, pick_device("auto"), "fp32")
    photo = decode_image(photo) if photo is not None else None
    shown = resize_to(photo, fitted_size(photo.size, max(size, 256))) if photo is not None else None
    if channel is None:
        channel = most_active(shown, layer, extract) if shown is not None else 0
    if not 0 <= channel < count:
        raise SettingsError(f"Channel must be between 0 and {count - 1} for {layer}, not {channel}.")
    generator = torch.Generator().manual_seed(seed)
    picture = SpectralImage(size, size, generator, extract.device)
    optimizer = torch.optim.Adam([picture.coefficients], lr=LEARNING_RATE)
    name, title = f"{layer}_ch{channel}", f"what {layer} channel {channel} looks for"
    sheet = Sheet("channel", steps)

    def strength(image: torch.Tensor) -> float:
        with torch.no_grad():
            return extract(image, [layer])[layer][0, channel].float().mean().item()

    if shown is not None:
        with torch.no_grad():
            maps = extract(to_tensor(shown).to(extract.device), [layer])[layer][0, channel].float().cpu()
        sheet.put("photo_" + name, "where it fires in the photo", render.overlay(shown, maps))
        sheet.numbers["photo_activation"] = round(maps.mean().item(), 4)
    start = picture().detach()
    sheet.numbers.update({"layer": layer, "channel": channel, "channels": count,
                          "start_activation": round(strength(start), 4)})
    sheet.put(name, title, to_pil(start))
    yield sheet.event(f"Starting from faint noise: {title}")
    for step in range(1, steps + 1):
        optimizer.zero_grad(set_to_none=True)
        with torch.enable_grad():
            response = extract(jittered(picture(), generator), [layer])[layer][0, channel].float().mean()
            (-response).backward()
        optimizer.step()
        sheet.step = step
        if step % max(1, steps // PREVIEWS) == 0 or step == steps:
            with torch.no_grad():
                sheet.put(name, title, to_pil(picture()))
        yield sheet.event(f"Step {step} of {steps}: the channel responds {response.item():.3g}")
    sheet.numbers["end_activation"] = round(strength(picture().detach()), 4)
    yield sheet.event(f"Done: {title}.", done=True)


def most_active(photo: Image.Image, layer: str, extract: FeatureExtractor) -> int:
    """The channel of `layer` that fires most on average over `photo`."""
    with torch.no_grad():
        maps = extract(to_tensor(photo).to(extract.device), [layer])[layer][0].float()
    return int(maps.mean(dim=(1, 2)).argmax())
