"""ZeroGPU: declared durations from measured step times, a spent quota answered on the CPU with one sentence, and
the sign-in button. The refusals are the real `spaces` package's own (its error builder, with its titles); only
the scheduling that would need a ZeroGPU Space is stood in for."""

import gradio as gr
import pytest
from PIL import Image

from nst_core import Settings
from studio import stylize_job, zerogpu
from studio.stylize_job import gpu_seconds, gpu_step_seconds, stylize_frames, stylize_on_cpu
from studio.tabs.explain_job import view_frames

from .conftest import missing

QUOTA = "You have exceeded your free ZeroGPU quota (57s requested vs. 12s left). Try again in 13:12:01."


def spaces_package():
    try:
        import spaces.zero.gradio
    except ImportError:
        missing("the spaces package is not installed (requirements-dev.txt has it)")
    return spaces


def spaces_error(title: str, message: str) -> gr.Error:
    """The refusal the `spaces` package raises, built by the package itself."""
    return spaces_package().zero.gradio.error(title, message)


def refusing(title: str, message: str, durations: list):
    """A stand-in for spaces.GPU on a ZeroGPU Space whose scheduler refuses every call as the package does."""

    def gpu(duration):
        def wrap(job):
            def refused(*args, **kwargs):
                durations.append(duration(*args, **kwargs))
                raise spaces_error(title, message)
                yield  # a generator, as spaces wraps one
            return refused
        return wrap

    return gpu


@pytest.fixture
def quota_spent(monkeypatch):
    spaces = spaces_package()

    durations: list[int] = []
    monkeypatch.setattr(spaces, "GPU", refusing("ZeroGPU quota exceeded", QUOTA, durations))
    return durations


def test_a_spent_quota_paints_on_the_cpu_after_one_sentence(quota_spent, real_weights, shared_images):
    job = zerogpu.on_gpu(gpu_seconds, stylize_on_cpu)(stylize_frames)
    photo = Image.open(shared_images / "tubingen.jpg").convert("RGB")
    painting = Image.open(shared_images / "starry_night.jpg").convert("RGB")
    settings = Settings(size=1024, iterations=4, weights=str(real_weights), device="auto", coarse_to_fine=False)
    frames = list(job(photo, [painting], settings, False))
    assert quota_spent and 15 <= quota_spent[0] <= 120  # the duration it declared, from the job's arguments
    said = frames[0].status
    assert "free GPU time is used up" in said and "Sign in" in said and "on the CPU instead at 512 px" in said
    assert "Error" not in said and "Traceback" not in said
    assert frames[-1].done and max(frames[-1].image.size) == 512 and frames[-1].recipe["settings"]["device"] == "cpu"
    assert all(frame.status.endswith(said) for frame in frames if frame.status)  # it stays said while the CPU works


def test_a_job_too_long_for_one_call_runs_on_the_cpu(monkeypatch, real_weights, shared_images):
    spaces = spaces_package()

    monkeypatch.setattr(spaces, "GPU", refusing("ZeroGPU illegal duration",
                                                "The requested GPU duration (300s) is larger than the maximum allowed",
                                                []))
    job = zerogpu.on_gpu(gpu_seconds, stylize_on_cpu)(stylize_frames)
    photo = Image.open(shared_images / "tubingen.jpg").convert("RGB")
    settings = Settings(size=96, iterations=3, weights=str(real_weights), coarse_to_fine=False)
    frames = list(job(photo, [photo], settings, False))
    assert frames[0].status == ("This job needs longer on the GPU than one free call may take. Running on the CPU "
                                "instead: slower, but it runs.")
    assert frames[-1].done and max(frames[-1].image.size) == 96


def test_an_explain_view_says_when_to_retry_instead_of_failing(quota_spent):
    job = zerogpu.on_gpu(lambda *args: 60, None)(view_frames)
    frames = list(job("layers", [None, None], {}, 30.0))
    assert len(frames) == 1 and "free GPU time is used up" in frames[0].status
    assert frames[0].status.endswith("Try again later.")


def test_other_errors_are_not_taken_for_a_spent_quota(monkeypatch):
    spaces = spaces_package()

    monkeypatch.setattr(spaces, "GPU", refusing("Error", "CUDA error: an illegal memory access", []))
    job = zerogpu.on_gpu(lambda *args: 60, None)(view_frames)
    with pytest.raises(gr.Error, match="illegal memory access"):
        list(job("layers", [None, None], {}, 30.0))


def test_off_zero_gpu_a_job_runs_as_it_is():
    """The installed spaces package outside a ZeroGPU Space hands the job back: no wrapper, no fallback."""
    assert not zerogpu.on_zero_gpu()
    assert zerogpu.on_gpu(lambda *args: 60, None)(view_frames) is view_frames


def test_declared_seconds_follow_the_measured_steps():
    assert gpu_step_seconds(100 * 100) == gpu_step_seconds(512 * 384) == 0.0095  # launch-bound below 512 px
    assert gpu_step_seconds(1024 * 768) == pytest.approx(0.0157)
    assert 0.0157 < gpu_step_seconds(1536 * 1152) < 0.148
    assert gpu_step_seconds(4096 * 3072) == pytest.approx(4 * 0.148)
    photo = Image.new("RGB", (1024, 768))
    small, large = (gpu_seconds(photo, [], Settings(size=size), False) for size in (256, 2048))
    assert stylize_job.START_SECONDS < small < large <= stylize_job.ZERO_GPU_MAX_CALL
    assert gpu_seconds(photo, [], Settings(size=4096, iterations=2000), False) == stylize_job.ZERO_GPU_MAX_CALL
    assert gpu_seconds(photo, [], Settings(size=2048, max_seconds=17), False) == 17


def as_a_zero_gpu_space_with_sign_in(monkeypatch) -> None:
    """The variables a ZeroGPU Space with `hf_oauth: true` has (values made up: nothing is fetched to build)."""
    import gradio.oauth

    values = {"SPACES_ZERO_GPU": "true", "SYSTEM": "spaces", "SPACE_ID": "school/studio", "OAUTH_CLIENT_ID": "id",
              "OAUTH_CLIENT_SECRET": "secret", "OAUTH_SCOPES": "openid profile",
              "OPENID_PROVIDER_URL": "https://huggingface.co"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
        if hasattr(gradio.oauth, name):  # read once, when Gradio is imported
            monkeypatch.setattr(gradio.oauth, name, value)


def sign_in_buttons(demo) -> list:
    return [block for block in demo.blocks.values() if isinstance(block, gr.LoginButton)]


def test_the_sign_in_button_is_on_a_zero_gpu_space_with_sign_in_only(monkeypatch):
    from studio import Limits, build_demo
    from studio.page import SIGN_IN_LABEL

    def told() -> str:
        return zerogpu.refused_because(spaces_error("ZeroGPU quota exceeded", QUOTA))

    assert not sign_in_buttons(build_demo(Limits()))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # ZeroGPU, but the Space has no `hf_oauth: true`
    assert not sign_in_buttons(build_demo(Limits()))
    assert "Sign in to huggingface.co" in told()  # no button to point at
    as_a_zero_gpu_space_with_sign_in(monkeypatch)
    buttons = sign_in_buttons(build_demo(Limits()))
    assert len(buttons) == 1 and buttons[0].value == SIGN_IN_LABEL
    assert "Sign in with Hugging Face (the button at the top)" in told()


@pytest.mark.server
def test_a_long_training_is_cut_into_calls_that_each_go_on_from_the_last(inprocess_app, tmp_path, monkeypatch):
    """On ZeroGPU (calls cut to 5 s here, against 90 s in use) a 12 s training is three calls, each resuming the
    last one's checkpoint: the steps go on, one network comes out, trained 12 s in all."""
    from gradio_client import Client, handle_file

    from nst_core.fast.model import load_model
    from studio.tabs import fast_job

    from .apphelpers import wait_job
    from .conftest import ROOT, gradient_image

    calls = []
    train_frames = fast_job.train_frames

    def counted(photo, painting, settings, style, **resume):
        steps = []
        calls.append((settings.max_seconds, resume.get("started"), steps))
        for frame in train_frames(photo, painting, settings, style, **resume):
            steps += [frame.step] if frame.step else []
            yield frame

    monkeypatch.setattr(fast_job, "on_zero_gpu", lambda: True)
    monkeypatch.setattr(fast_job, "TRAIN_CALL_SECONDS", 5)
    monkeypatch.setattr(fast_job, "train_frames", counted)
    _app, url = inprocess_app
    photo = tmp_path / "photo.png"
    gradient_image(120, 90, seed=3).save(photo)
    job = Client(url, verbose=False, download_files=str(tmp_path / "downloads")).submit(
        handle_file(photo), handle_file(ROOT / "styles" / "gallery" / "stained_glass.png"), 12, api_name="/fast_train")
    wait_job(job, 240)
    statuses = [out[1] for out in job.outputs()]
    assert [(limit, started) for limit, started, _ in calls] == [(5, 0.0), (10, 5), (12, 10)]
    for (*_, before), (*_, after) in zip(calls, calls[1:]):
        assert before and after and after[0] == before[-1] + 1  # the next call goes on where the last one stopped
    assert any("GPU call 1 of 3 done" in status for status in statuses)
    assert "Done" in statuses[-1] and "GPU call" not in statuses[-1]
    trained = load_model(job.outputs()[-1][3])
    # Learnt into the shipped gallery's network where there is one: its record is the new style's own.
    record = trained.styles[-1].meta["adapted"] if trained.net.styles > 1 else trained.meta
    assert record["training_seconds"] >= 12 and record["steps_done"] == calls[-1][-1][-1]


@pytest.mark.browser
def test_a_classroom_sees_the_sign_in_button_at_the_top(monkeypatch, tmp_path):
    """The page of a ZeroGPU Space with sign-in, in a real browser: the button is at the top, beside the
    projector switch, where the quota sentence says it is."""
    from studio import Limits, build_demo, launch_options
    from studio.page import SIGN_IN_LABEL

    from .apphelpers import free_port, studio_page

    as_a_zero_gpu_space_with_sign_in(monkeypatch)
    demo = build_demo(Limits())
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **launch_options(Limits()))
    try:
        with studio_page(f"http://127.0.0.1:{port}", tmp_path / "profile") as page:
            button = page.locator("#sign-in")
            button.wait_for(state="visible")
            assert SIGN_IN_LABEL in button.inner_text()
            top = button.bounding_box()
            assert top["y"] < page.locator("#run").bounding_box()["y"]  # above the tabs, not lost below them
            page.screenshot(path=str(tmp_path / "sign-in.png"))
    finally:
        demo.close()


@pytest.mark.browser
def test_a_spent_quota_in_the_browser_is_a_sentence_and_a_picture(inprocess_app, quota_spent, monkeypatch,
                                                                   shared_images, tmp_path):
    """Run on a ZeroGPU Space whose quota is spent: the status says why and that the CPU paints instead, all the
    while it does; the picture comes; no red badge, no stuck button."""
    from studio.tabs import stylize

    from .apphelpers import add_photo_and_painting, set_slider, studio_page

    monkeypatch.setattr(stylize, "stylize_frames", zerogpu.on_gpu(gpu_seconds, stylize_on_cpu)(stylize_frames))
    _app, url = inprocess_app
    with studio_page(url, tmp_path / "profile") as page:
        add_photo_and_painting(page, shared_images, painting=1)  # no fast network: no instant picture
        set_slider(page, "Output size (px)", 64)
        set_slider(page, "Iterations", 3)
        page.click("#run")
        page.wait_for_function("() => document.querySelector('#status').innerText.includes('Done')",
                               timeout=120_000)
        status = page.locator("#status").inner_text()
        assert "Today's free GPU time is used up" in status and "Running on the CPU instead" in status
        assert quota_spent, "the GPU call was never asked for"
        assert page.locator("#result img").first.get_attribute("src")
        page.wait_for_selector("#run:not([disabled])", timeout=10_000)
        assert page.locator(".error, .toast-body.error").count() == 0
        page.screenshot(path=str(tmp_path / "quota-spent.png"))
