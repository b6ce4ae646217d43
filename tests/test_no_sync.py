"""A step never waits for the device: no host read of a tensor inside it, values read back a few steps at a time,
and L-BFGS kept on the device converging as torch's own does (fp32 throughout: precision="fp32").

On a CPU nothing waits, so what is checked is the code: every host read a GPU would wait for (`.item()`,
`.tolist()`, `float(t)`, `if t:`, `.cpu()`, ...) is counted by a torch function mode. tests/test_gpu.py checks
the same on a GPU with CUDA's own sync detector."""

import sys

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from nst_core import Settings, engine, guard, stylize_iter
from nst_core.backbones import load_backbone
from nst_core.images import decode_image
from nst_core.lbfgs import DeviceLBFGS
from nst_core.losses import argsort_on_cpu

# Tensor methods and functions whose result needs the tensor's value on the host: each one waits for a GPU.
HOST_READS = {"item", "tolist", "__bool__", "__float__", "__int__", "__index__", "__complex__", "cpu", "numpy",
              "nonzero", "masked_select", "__format__", "__repr__"}
# Code that runs only where the tensors are on the CPU, and so never waits for a GPU: its reads are not counted.
CPU_ONLY = {argsort_on_cpu.__code__}


class HostReads(TorchFunctionMode):
    """Counts, by name, the host reads made while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in HOST_READS and sys._getframe(1).f_code not in CPU_ONLY:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def bumpy(x: torch.Tensor) -> torch.Tensor:
    """A smooth non-quadratic function whose curvature changes along the way (history pairs matter)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(30, 30, generator=generator, dtype=torch.float64)
    a = a @ a.T / 30 + 0.1 * torch.eye(30, dtype=torch.float64)
    b = torch.randn(30, generator=generator, dtype=torch.float64)
    return 0.5 * x @ a @ x - b @ x + 0.1 * (x ** 4).sum()


@pytest.mark.parametrize("static", [False, True], ids=["pairs-held", "every-slot"])
def test_device_lbfgs_takes_torchs_steps(static):
    """40 steps, history 5 (the ring wraps 7 times), float64: the same iterates as torch.optim.LBFGS."""
    ours = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    theirs = ours.detach().clone().requires_grad_(True)
    optimiser = DeviceLBFGS(ours, lr=1.0, history=5)
    optimiser.static = static
    reference = torch.optim.LBFGS([theirs], lr=1.0, max_iter=1, history_size=5, tolerance_grad=0,
                                  tolerance_change=0)

    def closure(x):
        def evaluate():
            x.grad = None
            loss = bumpy(x)
            loss.backward()
            return loss
        return evaluate

    for _ in range(40):
        optimiser.step(closure(ours))
        reference.step(closure(theirs))
        assert torch.allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert bumpy(ours) < bumpy(torch.zeros(30, dtype=torch.float64)) - 1  # it went somewhere


def test_a_guarded_step_reads_nothing_on_the_host(content_img, style_img, tiny, monkeypatch):
    """Every step of a run, optimiser and guard and the objective's evaluation, with zero host reads."""
    per_step = []
    step = guard.GuardedOptimiser.step

    def counted(self, evaluate, number):
        with HostReads() as reads:
            step(self, evaluate, number)
        per_step.append(reads.seen)

    monkeypatch.setattr(guard.GuardedOptimiser, "step", counted)
    settings = Settings(size=48, iterations=10, device="cpu", coarse_to_fine=False, precision="fp32")
    events = list(stylize_iter(content_img, style_img, settings, backbone=tiny))
    assert len(per_step) == len(events) == 10
    assert per_step == [[]] * 10, f"host reads inside steps: {per_step}"


def run_reads(content_img, style_img, tiny, iterations: int) -> int:
    settings = Settings(size=48, iterations=iterations, device="cpu", coarse_to_fine=False, precision="fp32",
                        preview_every=1000)
    with HostReads() as reads:
        events = list(stylize_iter(content_img, style_img, settings, backbone=tiny))
    assert [e.step for e in events] == list(range(1, iterations + 1))  # every step still has its event
    return len(reads.seen)


def test_values_are_read_a_few_steps_at_a_time(content_img, style_img, tiny, monkeypatch):
    """With reads every 4 steps (a GPU's setting is GPU_READ_EVERY), 8 more steps cost at most 2 more reads; with
    a read a step (the CPU's) they cost 8 or more, so the count can tell the two apart."""
    monkeypatch.setattr(engine, "read_every", lambda device: 4)
    extra = run_reads(content_img, style_img, tiny, 16) - run_reads(content_img, style_img, tiny, 8)
    assert 0 < extra <= 2
    monkeypatch.setattr(engine, "read_every", lambda device: 1)
    assert run_reads(content_img, style_img, tiny, 16) - run_reads(content_img, style_img, tiny, 8) >= 8


def test_a_divergence_read_late_still_rolls_back(content_img, style_img, tiny, monkeypatch):
    """A NaN at step 4 read back 4 steps late (as on a GPU): rolled back once, the steps taken from the bad image
    discarded with it (not counted as more failures), and the run ends on a finite, better picture."""
    from .test_engine import NaNOnce

    monkeypatch.setattr(engine, "read_every", lambda device: 4)
    settings = Settings(size=48, iterations=15, device="cpu", coarse_to_fine=False, precision="fp32")
    events = list(stylize_iter(content_img, style_img, settings, backbone=NaNOnce(tiny, bad_call=4)))
    assert [e.step for e in events] == list(range(1, 16))
    flagged = [e.step for e in events if e.message]
    assert flagged == [4] and "rolled back" in events[3].message
    assert events[-1].loss is not None and events[-1].loss < events[0].loss
    assert np.asarray(events[-1].preview).std() > 1


class TorchLBFGS:
    """torch.optim.LBFGS behind DeviceLBFGS's interface: the guarded optimiser as it was before the device one."""

    def __init__(self, x, lr, history):
        self.x = x
        self.optimizer = torch.optim.LBFGS([x], lr=lr, max_iter=1, history_size=history, tolerance_grad=0,
                                           tolerance_change=0)

    def step(self, closure):
        return self.optimizer.step(closure)

    def shrink_last_step(self, factor):
        self.optimizer.state[self.x]["t"] = self.optimizer.state[self.x]["t"] * factor


def run_with(content, style, backbone, settings, monkeypatch, optimiser):
    monkeypatch.setattr(guard, "DeviceLBFGS", optimiser)
    return list(stylize_iter(content, style, settings, backbone=backbone))


def compare_convergence(content, style, backbone, settings, monkeypatch):
    """The same steps in exact arithmetic (test_device_lbfgs_takes_torchs_steps); in fp32 the two sum in different
    orders, and the rounding grows over the steps as it does between torch's own runs on one thread and on two (on
    the tiny network: losses 1.3% apart at step 10, pictures 4.0 levels of 255 apart after 40 steps; ours
    against torch's: 3.7). So the losses are compared within 3% at every step, the pictures within 8 levels."""
    ours = run_with(content, style, backbone, settings, monkeypatch, DeviceLBFGS)
    theirs = run_with(content, style, backbone, settings, monkeypatch, TorchLBFGS)
    assert [e.loss for e in ours] == pytest.approx([e.loss for e in theirs], rel=0.03)
    assert ours[-1].loss < 0.7 * ours[0].loss  # it converged somewhere
    difference = np.abs(np.asarray(ours[-1].preview, np.float32) - np.asarray(theirs[-1].preview, np.float32)).mean()
    assert difference < 8, f"the pictures differ by {difference:.1f} levels of 255 on average"


def test_convergence_is_torchs_on_the_tiny_network(content_img, style_img, tiny, monkeypatch):
    settings = Settings(size=48, iterations=40, device="cpu", coarse_to_fine=False, precision="fp32")
    compare_convergence(content_img, style_img, tiny, settings, monkeypatch)


def test_convergence_is_torchs_on_the_real_weights(real_weights, shared_images, monkeypatch):
    """The default objective (sliced loss, coarse to fine) at 128 px, 40 steps, fp32."""
    content = decode_image(shared_images / "tubingen.jpg")
    style = decode_image(shared_images / "starry_night.jpg")
    backbone = load_backbone(str(real_weights))
    settings = Settings(size=128, iterations=40, device="cpu", precision="fp32", weights=str(real_weights))
    compare_convergence(content, style, backbone, settings, monkeypatch)
