"""Each picture is checked as it is uploaded (issue 21, defect 9): a text file renamed .jpg was accepted with a
broken-image sliver, and a 1x1 PNG ran into a near-copy of the painting without a word."""

from __future__ import annotations

from PIL import Image

from studio.components import SMALL_SIDE, upload_verdict


def test_a_file_that_is_not_a_picture_is_not_kept(tmp_path):
    text = tmp_path / "holiday.jpg"
    text.write_text("this is text, not a picture\n")
    assert upload_verdict(str(text), "photo") == (
        False, "This file is not an image we accept: use JPEG, PNG, WebP, GIF, BMP or TIFF.")


def test_a_picture_too_large_is_not_kept(tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("1", (8000, 8000)).save(huge)
    keep, sentence = upload_verdict(str(huge), "photo")
    assert not keep and sentence == "The image is too large (8000x8000); at most 40 megapixels are accepted."


def test_a_tiny_picture_is_kept_with_a_warning(tmp_path):
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(dot)
    assert upload_verdict(str(dot), "painting") == (
        True, f"The painting is only 1×1 pixels, too small to show the network much; one at least {SMALL_SIDE} pixels "
              "across works far better.")


def test_a_usual_picture_passes_without_a_word(shared_images):
    assert upload_verdict(str(shared_images / "tubingen.jpg"), "photo") == (True, None)
    with open(shared_images / "tubingen.jpg", "rb") as handle:
        assert upload_verdict(handle.read(), "photo") == (True, None)  # an inline data: URL arrives as bytes


def test_a_model_file_that_is_not_a_model_is_the_status_line_then_the_error(tmp_path):
    """The Fast tab's model-file check raised alone: its status was marked with a red "Error" badge."""
    import gradio as gr
    import pytest

    from studio.tabs.fast_job import check_model_file

    junk = tmp_path / "network.pt"
    junk.write_bytes(b"not a model at all")
    lines = check_model_file(str(junk))
    sentence = next(lines)
    with pytest.raises(gr.Error) as caught:
        next(lines)
    assert caught.value.message == sentence and sentence.endswith(".") and "/" not in sentence
    assert list(check_model_file(None)) == ["Using the network picked in the menu."]
