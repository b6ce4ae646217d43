"""The fast network and its file: shapes, odd sizes, no checkerboard, a safe and faithful save/load."""

from __future__ import annotations

import io
import zipfile

import pytest
import torch
from torch import nn

from nst_core.fast.model import (
    MIN_SIDE,
    WIDTHS,
    FastModel,
    ModelError,
    TransformerNet,
    load_model,
    save_model,
    style_digest,
)

from .conftest import gradient_image


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (2, 3, 37, 53), (1, 3, MIN_SIDE, 9)])
def test_output_has_the_input_size_and_range(width, shape):
    torch.manual_seed(0)
    net = TransformerNet(width).eval()
    with torch.no_grad():
        out = net(torch.rand(shape))
    assert out.shape == shape
    assert 0 <= out.min().item() and out.max().item() <= 1


def test_too_small_an_image_is_refused():
    with pytest.raises(ValueError, match="at least"):
        TransformerNet("slim")(torch.rand(1, 3, MIN_SIDE - 1, 32))


def test_slim_is_much_smaller_than_full():
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(TransformerNet("slim")) * 5 < count(TransformerNet("full"))


def checkerboard(image: torch.Tensor) -> float:
    """How much of the image's detail is a pattern of period two (the mark of uneven upsampling): the
    energy at the Nyquist corner of each 2x2 cell, relative to all the cell's detail."""
    cells = image[..., : image.shape[-2] // 2 * 2, : image.shape[-1] // 2 * 2]
    a, b = cells[..., 0::2, 0::2], cells[..., 0::2, 1::2]
    c, d = cells[..., 1::2, 0::2], cells[..., 1::2, 1::2]
    corner = (a - b - c + d).pow(2).mean()
    detail = (a - b).pow(2).mean() + (a - c).pow(2).mean() + corner
    return (corner / detail).item()


class TransposedUpsampling(nn.Module):
    """The same network with stride-2 transposed convolutions: the design the fast network avoids."""

    def __init__(self, net: TransformerNet) -> None:
        super().__init__()
        layers = list(net.net)
        for i, layer in enumerate(layers):
            if layer.__class__.__name__ == "Upsample":
                conv = layer.body[0][1]
                layers[i] = nn.Sequential(nn.ConvTranspose2d(conv.in_channels, conv.out_channels, 4, 2, 1),
                                          *layer.body[1:])
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))


def test_resize_then_convolve_leaves_no_checkerboard():
    """A flat grey photo must come out flat: each output pixel of a resize-then-convolve layer sees the same
    number of inputs. A stride-2 transposed convolution weighs its four output phases differently and paints a
    period-two pattern even on a flat input (Odena et al. 2016), as the same network rebuilt with one shows."""
    flat = torch.full((1, 3, 37, 53), 0.4)
    for seed in range(3):
        torch.manual_seed(seed)
        net = TransformerNet("slim")
        with torch.no_grad():
            ours, theirs = net(flat), TransposedUpsampling(net)(flat)
        spread = lambda image: (image.amax((2, 3)) - image.amin((2, 3))).max().item()  # noqa: E731 (per channel)
        assert spread(ours) < 1e-5
        inner = theirs[..., 8:-8, 8:-8]
        assert spread(inner) > 1e-4 and checkerboard(inner) > 0.2, checkerboard(inner)


def test_save_load_round_trip_is_small_safe_and_faithful(tmp_path):
    torch.manual_seed(1)
    net = TransformerNet("slim").eval()
    painting = gradient_image(300, 200, seed=4)
    meta = {"style": "test", "teacher": "perceptual", "photos": ["a.jpg", "b.png"], "training_seconds": 1.5}
    path = tmp_path / "model.pt"
    model = FastModel(net, meta, painting)
    save_model(model, path)
    assert model.source == "model.pt" and len(model.digest) == 64
    assert path.stat().st_size < 1_500_000  # fp16 weights and a 512 px painting
    raw = torch.load(path, weights_only=True)  # nothing but tensors, numbers and strings
    assert raw["format"] == "nst-fast-1"
    loaded = load_model(path)
    assert loaded.meta == meta and loaded.net.width == "slim" and loaded.digest == model.digest
    assert loaded.painting.size == (300, 200) and loaded.painting.tobytes() == painting.tobytes()
    assert style_digest(painting) == style_digest(painting.copy()) != style_digest(painting.rotate(180))
    x = torch.rand(1, 3, 40, 48)
    with torch.no_grad():
        assert (loaded.net(x) - net(x)).abs().max().item() < 5e-3  # fp16 storage
    assert load_model(path.read_bytes()).digest == model.digest


class RunsCode:
    def __reduce__(self):
        return (open, ("/nonexistent-dir/should-not-be-created", "w"))


@pytest.mark.parametrize("payload", [b"", b"not a model at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "pickle", "zip",
                                     "dict"])
def test_anything_else_is_one_sentence(payload, tmp_path):
    if payload == "pickle":  # torch.save of an object that runs code when unpickled: weights_only refuses it
        buffer = io.BytesIO()
        torch.save({"format": "nst-fast-1", "evil": RunsCode()}, buffer)
        payload = buffer.getvalue()
    elif payload == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zipped:
            zipped.writestr("data.pkl", b"junk")
        payload = buffer.getvalue()
    elif payload == "dict":
        buffer = io.BytesIO()
        torch.save({"format": "nst-fast-1", "width": "slim", "weights": {"x": torch.zeros(2)}, "meta": "{}"}, buffer)
        payload = buffer.getvalue()
    with pytest.raises(ModelError) as caught:
        load_model(payload)
    message = str(caught.value)
    assert message.endswith(".") and "\n" not in message and str(tmp_path) not in message


def test_a_missing_file_is_named_without_its_path(tmp_path):
    with pytest.raises(ModelError, match="'gone.pt'") as caught:
        load_model(tmp_path / "gone.pt")
    assert str(tmp_path) not in str(caught.value)
