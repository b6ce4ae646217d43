"""GPU checks (skip without CUDA; CI has none): bf16 autocast agrees with fp32 (the engine's and a fast network's),
memory is freed, no step waits for the GPU and the CUDA graph of the step paints what eager steps paint."""

import numpy as np
import pytest
import torch

from nst_core import Settings, engine, guard, stylize, stylize_iter
from nst_core.config import INITS, STYLE_LOSSES
from nst_core.fast.apply import paint_tensor, paints_in_bf16, style_model
from nst_core.images import decode_image, resize_longest, to_tensor
from nst_core.step_graph import GraphedSteps

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")]


def test_bf16_and_fp32_results_agree(real_weights, shared_images):
    base = dict(size=256, iterations=60, weights=str(real_weights), device="cuda")
    photo, painting = shared_images / "golden_gate.jpg", shared_images / "the_scream.jpg"
    fp32 = stylize(photo, painting, Settings(**base, precision="fp32"))
    bf16 = stylize(photo, painting, Settings(**base, precision="bf16"))
    difference = np.abs(np.asarray(fp32, np.float32) - np.asarray(bf16, np.float32)).mean() / 255
    print(f"mean absolute difference bf16 vs fp32: {difference:.4f}")
    assert difference < 0.04


def test_closing_a_run_frees_gpu_memory(real_weights, shared_images):
    settings = Settings(size=512, iterations=50, weights=str(real_weights), device="cuda")
    list(stylize_iter(shared_images / "tubingen.jpg", shared_images / "starry_night.jpg",
                      Settings(size=64, iterations=1, weights=str(real_weights), device="cuda")))
    baseline = torch.cuda.memory_allocated()
    run = stylize_iter(shared_images / "tubingen.jpg", shared_images / "starry_night.jpg", settings)
    for _ in range(5):
        next(run)
    assert torch.cuda.memory_allocated() > baseline
    run.close()
    assert torch.cuda.memory_allocated() <= baseline + 1024 * 1024


def test_real_cuda_out_of_memory_is_reported_and_the_next_run_works(real_weights, shared_images):
    from nst_core.engine import OutOfMemory

    photo, painting = shared_images / "tubingen.jpg", shared_images / "starry_night.jpg"
    torch.cuda.set_per_process_memory_fraction(0.005)  # ~400 MB of an 80 GB card: 1024 px cannot fit
    try:
        with pytest.raises(OutOfMemory, match="choose a smaller size"):
            stylize(photo, painting, Settings(size=1024, iterations=3, weights=str(real_weights), device="cuda"))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    image = stylize(photo, painting, Settings(size=128, iterations=3, weights=str(real_weights), device="cuda"))
    assert max(image.size) == 128


@pytest.mark.parametrize("init", INITS)
def test_every_start_image_runs_on_the_gpu(real_weights, shared_images, init):
    # The recoloured start built its colour covariance's regulariser on the CPU: every default run on a GPU
    # failed with "Expected all tensors to be on the same device" (first GPU run, Nov 2026).
    image = stylize(shared_images / "tubingen.jpg", shared_images / "starry_night.jpg",
                    Settings(size=96, iterations=3, init=init, weights=str(real_weights), device="cuda"))
    assert image.size == (96, 72)


@pytest.mark.parametrize("style_loss", STYLE_LOSSES)
def test_every_style_loss_runs_tiled_on_the_gpu(real_weights, shared_images, style_loss):
    image = stylize(shared_images / "tubingen.jpg", shared_images / "starry_night.jpg",
                    Settings(size=320, tile_size=192, iterations=3, style_loss=style_loss, weights=str(real_weights),
                             device="cuda"))
    assert image.size == (320, 240)


def test_a_step_never_waits_for_the_gpu(real_weights, shared_images, monkeypatch):
    """CUDA's own detector turns any synchronisation inside a step into an error (tests/test_no_sync.py counts
    the host reads on a CPU)."""
    step = guard.GuardedOptimiser.step

    def strict(self, evaluate, number):
        torch.cuda.set_sync_debug_mode("error")
        try:
            step(self, evaluate, number)
        finally:
            torch.cuda.set_sync_debug_mode("default")

    monkeypatch.setattr(guard.GuardedOptimiser, "step", strict)
    monkeypatch.setattr(engine, "CUDA_GRAPHS", False)
    events = list(stylize_iter(shared_images / "tubingen.jpg", shared_images / "starry_night.jpg",
                               Settings(size=256, iterations=30, weights=str(real_weights), device="cuda")))
    assert [e.step for e in events] == list(range(1, 31)) and events[-1].loss < events[0].loss


def test_graphed_steps_paint_what_eager_steps_paint(real_weights, shared_images, monkeypatch):
    """At 512 px, 60 steps of the default objective: the run through CUDA graphs (one capture, then replays)
    against the same run launched kernel by kernel."""
    captures = []
    record = GraphedSteps.record

    def counted(self):
        record(self)
        captures.append(self.replay is not None)

    monkeypatch.setattr(GraphedSteps, "record", counted)
    settings = Settings(size=512, iterations=60, coarse_to_fine=False, weights=str(real_weights), device="cuda")
    photo, painting = shared_images / "tubingen.jpg", shared_images / "starry_night.jpg"
    graphed = list(stylize_iter(photo, painting, settings))
    assert captures == [True]
    monkeypatch.setattr(engine, "CUDA_GRAPHS", False)
    eager = list(stylize_iter(photo, painting, settings))
    assert graphed[-1].loss == pytest.approx(eager[-1].loss, rel=0.05)
    difference = np.abs(np.asarray(graphed[-1].preview, np.float32) - np.asarray(eager[-1].preview, np.float32))
    assert difference.mean() / 255 < 0.04


def test_a_fast_network_paints_in_bf16_on_the_gpu_like_fp32(shared_images):
    """paint_tensor's auto precision on CUDA is bf16 (Tensor Cores); its picture is fp32's but for rounding (the CPU
    figure: 0.0016-0.0030 mean absolute difference at 512 px, tests/test_precision.py)."""
    model = style_model("woodcut_waves")
    model.net.to("cuda")
    try:
        x = to_tensor(resize_longest(decode_image(shared_images / "tubingen.jpg"), 512)).cuda()
        assert paints_in_bf16(model)
        fp32, bf16 = paint_tensor(model, x, "fp32"), paint_tensor(model, x)
        difference = (fp32 - bf16).abs().mean().item()
        print(f"fast network on the GPU: mean absolute difference bf16 vs fp32 {difference:.4f}")
        assert bf16.dtype == torch.float32 and 0 < difference < 0.02
    finally:
        model.net.to("cpu")  # the model is cached for the other tests
