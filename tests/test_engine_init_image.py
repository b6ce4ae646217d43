"""The engine started from a given image (stylize_iter's init_image): what the Fast tab's Refine uses."""

from __future__ import annotations

import pytest

from nst_core import ImageError, Settings, stylize_iter

from .conftest import gradient_image

FAST = dict(size=64, weights="untrained", device="cpu", coarse_to_fine=False, preview_every=1)


def losses(content, style, tiny, iterations, **kwargs):
    return list(stylize_iter(content, style, Settings(**FAST, iterations=iterations), backbone=tiny, **kwargs))


def test_refining_continues_where_the_given_image_left_off(content_img, style_img, tiny):
    first = losses(content_img, style_img, tiny, 20)
    assert first[-1].loss < 0.5 * first[0].loss
    refined = losses(content_img, style_img, tiny, 3, init_image=first[-1].preview)
    from_photo = losses(content_img, style_img, tiny, 3)
    # Started from the result of 20 steps, the first step is already far below a start from the photo.
    assert refined[0].loss < 0.5 * from_photo[0].loss
    assert refined[0].loss <= 1.5 * first[-1].loss
    assert refined[-1].recipe["init_image_size"] == list(first[-1].preview.size)
    assert "init_image_size" not in from_photo[-1].recipe


def test_a_start_of_another_size_is_resized(content_img, style_img, tiny):
    events = losses(content_img, style_img, tiny, 2, init_image=gradient_image(300, 100, seed=9))
    assert events[-1].preview.size == events[-1].output_size == (64, 48)


def test_in_luminance_mode_the_start_is_taken_in_grey(content_img, style_img, tiny):
    """The optimised image is the photo's brightness there: the photo given as the start must be turned grey
    too, and then measures as the same start as the photo itself (content loss 0 at the first evaluation)."""
    settings = Settings(**FAST, iterations=1, preserve_color="luminance")
    given = next(stylize_iter(content_img, style_img, settings, backbone=tiny, init_image=content_img))
    plain = next(stylize_iter(content_img, style_img, settings, backbone=tiny))
    assert given.terms["content"] == pytest.approx(plain.terms["content"], abs=1e-6) and plain.terms["content"] < 1e-6


def test_an_unreadable_start_is_refused_before_any_step(content_img, style_img, tiny):
    events = stylize_iter(content_img, style_img, Settings(**FAST, iterations=2), backbone=tiny,
                          init_image=b"not an image")
    with pytest.raises(ImageError):
        next(events)
