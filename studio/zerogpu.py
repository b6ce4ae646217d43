"""ZeroGPU: each job's GPU call, and what a visitor sees when the GPU time runs out.

On a ZeroGPU Space a job runs in a GPU worker for the seconds it declares (`spaces.GPU(duration=...)`: shorter
declarations get a GPU sooner, a call that outlives its declaration is cut). The GPU time is a daily quota, per
Hugging Face account for visitors who sign in and per IP address for the rest: a class on one school network
shares one quota of a few minutes. When it is spent, or a job asks for more than one call may have, the `spaces`
package refuses the call with a gr.Error titled "ZeroGPU quota exceeded" (or "... illegal duration"); here that
becomes one sentence and the same job on the CPU, never an error. Off ZeroGPU (no `spaces` package, or not on
a ZeroGPU Space) a job runs as it is.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import gradio as gr
from gradio.utils import get_space

from .jobs import Frame

Job = TypeVar("Job", bound=Callable[..., Iterator[Frame]])
# To the CPU: a job's arguments rewritten for the CPU, and what the visitor is told of the change (or "").
CpuVersion = Callable[..., tuple[tuple, dict, str]]

# The titles of the `spaces` package's refusals (spaces/zero/client.py, 0.51) that running on the CPU answers.
OUT_OF_GPU_TIME = {"ZeroGPU quota exceeded", "ZeroGPU pending credits exceeded"}
TOO_LONG = {"ZeroGPU illegal duration"}
SHARED_QUOTA = "visitors who are not signed in share one per network address, so a whole class shares one."


def on_zero_gpu() -> bool:
    """Whether this server is a ZeroGPU Space (the variable the `spaces` package reads)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


# What a Space with `hf_oauth: true` in its README's metadata is given, and Gradio's sign-in needs.
OAUTH_VARIABLES = ("OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES", "OPENID_PROVIDER_URL")


def sign_in_offered() -> bool:
    """Whether the page offers "sign in for your own GPU quota": on a ZeroGPU Space that has sign-in enabled
    (without `hf_oauth: true` Gradio cannot sign anyone in, and the button would break the page)."""
    return on_zero_gpu() and get_space() is not None and all(os.environ.get(name) for name in OAUTH_VARIABLES)


def on_gpu(duration: Callable[..., int], on_cpu: CpuVersion | None) -> Callable[[Job], Job]:
    """ZeroGPU's `spaces.GPU(duration=...)` for a job that yields Frames, where the `spaces` package is installed;
    if ZeroGPU refuses the call (no GPU time left, or too long a call), the job runs on the CPU instead with
    `on_cpu(*args, **kwargs)`'s arguments, after a Frame that says why; without `on_cpu` (a job that cannot be
    told to use the CPU: the main process of a ZeroGPU Space believes it has CUDA) the Frame says when to retry."""
    try:
        import spaces
    except ImportError:
        return lambda job: job

    def wrap(job: Job) -> Job:
        gpu_job = spaces.GPU(duration=duration)(job)
        if gpu_job is job:  # not a ZeroGPU Space: nothing to fall back from
            return job

        @functools.wraps(job)
        def with_fallback(*args: Any, **kwargs: Any) -> Iterator[Frame]:
            try:
                yield from gpu_job(*args, **kwargs)
                return
            except gr.Error as refusal:
                why = refused_because(refusal)
                if why is None:
                    raise
            if on_cpu is None:
                yield Frame(f"{why} Try again later.")
                return
            cpu_args, cpu_kwargs, change = on_cpu(*args, **kwargs)
            said = f"{why} Running on the CPU instead{change}: slower, but it runs."
            yield Frame(said)
            for frame in job(*cpu_args, **cpu_kwargs):  # the sentence stays under the job's own status lines
                yield replace(frame, status=f"{frame.status}\n\n{said}") if frame.status else frame

        return with_fallback  # type: ignore[return-value]

    return wrap


def refused_because(refusal: gr.Error) -> str | None:
    """The visitor's sentence for a ZeroGPU refusal that the CPU can answer; None for any other error."""
    title = getattr(refusal, "title", None)
    if title in OUT_OF_GPU_TIME:
        where = "with Hugging Face (the button at the top)" if sign_in_offered() else "to huggingface.co"
        return f"Today's free GPU time is used up. Sign in {where} for a GPU quota of your own: {SHARED_QUOTA}"
    if title in TOO_LONG:
        return "This job needs longer on the GPU than one free call may take."
    return None
