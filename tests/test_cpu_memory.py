"""Freed CPU memory is reused by the next allocation instead of being faulted in again, and handed back at
the end of a run. Each check runs in a fresh interpreter: the allocator settings are process-wide."""

import json
import subprocess
import sys

import pytest

from nst_core import cpu_memory

from .conftest import ROOT

needs_glibc = pytest.mark.skipif(cpu_memory._glibc() is None, reason="the allocator settings are glibc-only")

PROBE = """
import json, resource, sys, torch
from nst_core import cpu_memory
if sys.argv[1] == "keep":
    assert cpu_memory.keep_freed_memory()
def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
# Steps of one first conv layer at 768 px: 150 MB activations, freed and allocated again each step.
x = torch.rand(1, 3, 768, 768, requires_grad=True)
weight = torch.rand(64, 3, 3, 3)
faults = []
for step in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.nn.functional.conv2d(x, weight, padding=1).relu().square().mean().backward()
    x.grad = None
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
held = rss_mb()
cpu_memory.release_freed_memory()
print(json.dumps({"faults": min(faults[1:]), "held": held, "released": rss_mb()}))
"""


def probe(mode: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@needs_glibc
def test_a_freed_block_is_reused_without_page_faults_and_handed_back_at_the_end():
    plain, kept = probe("plain"), probe("keep")
    assert plain["faults"] > 25_000  # >100 MB of 4 KiB pages faulted in again on every step
    assert kept["faults"] < plain["faults"] / 20  # on the fewest-fault step after the first
    assert kept["held"] - kept["released"] > 100  # MB: the kept blocks go back to the kernel at the end


def test_is_a_no_op_off_glibc(monkeypatch):
    monkeypatch.setattr(cpu_memory, "_glibc", lambda: None)
    cpu_memory.keep_freed_memory.cache_clear()
    try:
        assert cpu_memory.keep_freed_memory() is False
        cpu_memory.release_freed_memory()
    finally:
        cpu_memory.keep_freed_memory.cache_clear()
