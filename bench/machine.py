"""The machine a benchmark runs on: its name, its own matrix-multiply rate, peak memory and device syncs."""

from __future__ import annotations

import contextlib
import platform
import time

import torch

from nst_core.cpu_memory import release_freed_memory


def matmul_rate(device: torch.device, dtype: torch.dtype, seconds: float = 1.5) -> float:
    """This machine's dense matrix-multiply rate in FLOP/s (the practical ceiling for convolutions).

    Square products grow to 2048 (CPU) or 8192 (GPU) a side, stopping early where one product already
    takes 50 ms (bf16 on a CPU without bf16 instructions is emulated, ~100x slower).
    """
    largest = 2048 if device.type == "cpu" else 8192
    n = 256
    while True:
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        a @ b  # the first product of a shape picks its kernel
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        if n >= largest or time.perf_counter() - start > 0.05:
            break
        n *= 2
    rates = []
    for _window in range(3):  # the best of three windows: a shared machine's slow spells pull rates down
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            a @ b
            count += 1
        sync(device)
        rates.append(2.0 * n**3 * count / (time.perf_counter() - start))
    return max(rates)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        release_freed_memory()  # what the last run kept for reuse is not this run's
        with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux: restart the resident-set high-water mark from the current size


def peak_gib(device: torch.device) -> float:
    """GiB at the peak since the last reset: the GPU's allocated tensors, or the CPU process's resident set."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    with open("/proc/self/status") as f:  # resident-set high-water mark since the last reset
        peak = next((line.split()[1] for line in f if line.startswith("VmHWM")), "0")
    return int(peak) / 2**20


def peak_memory(device: torch.device) -> str:
    return f"{peak_gib(device):.2f} GiB" + (" (process)" if device.type == "cpu" else "")


def machine_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model_name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
        if model_name:
            return f"cpu: {model_name}"
    return f"cpu: {platform.processor() or platform.machine()}"
