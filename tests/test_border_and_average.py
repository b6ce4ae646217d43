"""The first convolution's border padding, and the average of the iterates shown and returned."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nst_core import Settings, stylize_iter
from nst_core.averaging import IterateAverage

from .conftest import tiny_backbone


@pytest.mark.parametrize("border", ["reflect", "replicate"])
def test_border_pads_the_first_convolution_only(border):
    model = tiny_backbone()
    image = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    zeros = model(image, {"relu1_1", "relu3_1"})
    padded = model(image, {"relu1_1", "relu3_1"}, border=border)
    conv = model.features[0]
    by_hand = F.relu(F.conv2d(F.pad(model.preprocess(image), (1, 1, 1, 1), mode=border), conv.weight, conv.bias))
    assert torch.allclose(padded["relu1_1"], by_hand, atol=1e-6)
    # The interior is the same; only what the first layer sees past the edge changed.
    assert torch.equal(padded["relu1_1"][..., 1:-1, 1:-1], zeros["relu1_1"][..., 1:-1, 1:-1])
    assert not torch.equal(padded["relu1_1"][..., 0, :], zeros["relu1_1"][..., 0, :])
    # Deeper, the difference spreads by the receptive field: 3 positions at relu3_1 (a quarter resolution).
    assert torch.allclose(padded["relu3_1"][..., 4:-4, 4:-4], zeros["relu3_1"][..., 4:-4, 4:-4], atol=1e-6)


def test_iterate_average_by_hand():
    average = IterateAverage(torch.zeros(1, 3, 2, 2), decay=0.5)
    assert torch.equal(average.get(), torch.zeros(1, 3, 2, 2))  # bias-corrected: the first image itself
    average.update(torch.ones(1, 3, 2, 2))
    # weights 0.25 (first) and 0.5 (second), normalised: 0.5 / 0.75
    assert torch.allclose(average.get(), torch.full((1, 3, 2, 2), 2 / 3))


def test_the_average_is_what_the_run_shows_and_returns(content_img, style_img):
    # fp32: the distances below are a property of this run's path, which another arithmetic changes (in bf16 an
    # early step went further out and came back, so at step 4 the average lay further from the photo, 4.23 against
    # 3.58); the average itself is the same code in any precision.
    common = dict(size=48, iterations=12, device="cpu", coarse_to_fine=False, preview_every=4, style_weight=100.0,
                  init="content", precision="fp32")  # the photo, so the average's distance to it says how much it holds
    plain = list(stylize_iter(content_img, style_img, Settings(**common, average_decay=0.0), backbone=tiny_backbone()))
    averaged = list(stylize_iter(content_img, style_img, Settings(**common, average_decay=0.8),
                                 backbone=tiny_backbone()))
    # The same steps are taken: the average is only looked at, it does not feed back within a scale...
    assert [e.loss for e in plain] == pytest.approx([e.loss for e in averaged], rel=1e-5)
    assert [e.step for e in averaged if e.preview is not None] == [1, 4, 8, 12]
    # ...but every picture shown, and the final one, is the average: it still holds some of the photo the
    # run started from, so it lies between the photo and the latest step.
    photo = np.asarray(content_img.resize((48, 36)), np.float32)

    def distance(event):
        return np.abs(np.asarray(event.preview, np.float32) - photo).mean()

    for plain_event, averaged_event in zip(plain, averaged):
        # Not step 1: torch's L-BFGS scales its first step by 1/|gradient|, so that picture has barely moved
        # from the photo (to the same 8-bit pixels) and there is nothing for the average to lie between.
        if plain_event.preview is not None and plain_event.step > 1:
            assert 0 < distance(averaged_event) < distance(plain_event)
