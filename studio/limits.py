"""The limits of a shared server, read once from the environment, and the process set-up that goes with them.

Every limit has a default suited to a free two-core Space and an environment variable to change it
(README, "Limits and safety"). Nothing here happens at import: `Limits.from_env()` reads, `set_up_process`
acts, both called by app.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields

import torch

from nst_core.cpu_memory import keep_freed_memory
from nst_core.images import MAX_BYTES


@dataclass(frozen=True)
class Limits:
    max_size: int = 1024  # NST_MAX_SIZE: longest output side
    max_iterations: int = 1000  # NST_MAX_ITERATIONS
    job_seconds: float = 300.0  # NST_JOB_SECONDS: wall clock of one job, then it ends with its last image
    train_seconds: float = 180.0  # NST_TRAIN_SECONDS: wall clock of one fast-network training, then it keeps its best
    video_seconds: float = 20.0  # NST_VIDEO_SECONDS: the longest clip the Video tab paints
    queue_size: int = 32  # NST_QUEUE_SIZE: Gradio's queue; beyond it, "queue is full"
    compute_slots: int = 1  # NST_COMPUTE_SLOTS: jobs computing at once; the rest wait first come first served
    # NST_BATCH_JOBS: on a GPU server (not ZeroGPU), up to this many visitors' Stylize runs of one shape share the
    # network's pass (studio/batches.py); 1 computes each alone. A CPU always computes them alone.
    batch_jobs: int = 4
    # Gradio keeps ~135 kB of state per session (each API call is one) up to 10000 sessions (~1.3 GB); the
    # studio keeps nothing there it needs, so a smaller bound only caps memory.
    state_sessions: int = 500  # NST_STATE_SESSIONS
    torch_threads: int = 0  # NST_TORCH_THREADS: 0 keeps torch's default, a thread per core
    upload_bytes: int = MAX_BYTES  # what the upload route and the decoder accept

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Limits:
        """The defaults, with each NST_<NAME> variable that is set; a malformed one stops the start-up."""
        values = {}
        for f in fields(cls):
            raw = env.get("NST_" + f.name.upper())
            if raw is None or f.name == "upload_bytes":
                continue
            kind = int if f.type in ("int", int) else float
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise SystemExit(f"NST_{f.name.upper()} must be a number, not {raw!r}.") from None
            if values[f.name] < 0 or (values[f.name] == 0 and f.name != "torch_threads"):
                raise SystemExit(f"NST_{f.name.upper()} must be positive, not {raw!r}.")
        return cls(**values)


def set_up_process(limits: Limits) -> None:
    """Threads and memory for this process, before Gradio starts its worker threads."""
    if not torch.cuda.is_available():
        # torch's default (a thread per core) measured best here: on two cores, 60 steps at 256 px through the
        # studio took 18.2 s with two threads and 29.5 s with one (`python -m bench.studio`).
        if limits.torch_threads:
            torch.set_num_threads(limits.torch_threads)
        keep_freed_memory()  # worker threads then share the one reusable heap (nst_core.cpu_memory)
    # torch.optim's first optimiser imports torch._dynamo (2.9 s on two cores): do that while the page loads,
    # not after the first Run with Adam (L-BFGS is the engine's own, nst_core/lbfgs.py).
    threading.Thread(target=lambda: torch.optim.Adam([torch.zeros(1, requires_grad=True)]), daemon=True).start()
