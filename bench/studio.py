"""The studio as a visitor meets it, through the real app and gradio_client: seconds from Run to the
first streamed preview, and what streaming costs a run: a preview every step and every 10 (the default)
against one in 100.

    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.studio
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from pathlib import Path

from gradio_client import Client, handle_file

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def submit(client: Client, **settings):
    return client.submit(handle_file(str(SHARED_IMAGES / "tubingen.jpg")),
                         handle_file(str(SHARED_IMAGES / "starry_night.jpg")), api_name="/stylize", **settings)


def first_preview(client: Client) -> float:
    """Seconds from submitting a default job to its first preview image; the job is then cancelled."""
    start = time.perf_counter()
    job = submit(client)
    for image, status, *_ in job:
        if image and status.startswith("Step"):
            seconds = time.perf_counter() - start
            print(f"  status then: {status.splitlines()[0]}")
            job.cancel()
            time.sleep(1.0)  # let the cancelled job free the compute slot
            return seconds
    raise RuntimeError("the job ended without a preview")


def run_seconds(client: Client, preview_every: int, iterations: int, size: int) -> float:
    """Seconds from submitting a job to its final result."""
    start = time.perf_counter()
    submit(client, iterations=iterations, size=size, preview_every=preview_every).result()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=60, help="steps of each streaming-cost run")
    parser.add_argument("--size", type=int, default=256, help="size of each streaming-cost run")
    args = parser.parse_args()
    import torch

    import app  # imported here: it builds the page and sets torch's threads

    port = free_port()
    app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        for label in ("first run (loads the weights)", "second run"):
            print(f"{label}: first preview after {first_preview(client):.2f} s (default settings)")
        iterations, size = args.iterations, args.size
        timings: dict[int, list[float]] = {1: [], 10: [], 100: []}
        for _round in range(3):  # interleaved, so a slow spell of the machine hits every setting
            for every in timings:
                timings[every].append(run_seconds(client, every, iterations, size))
        quiet = statistics.median(timings[100])
        print(f"{iterations} steps at {size} px, {torch.get_num_threads()} torch threads, medians of 3: "
              f"{quiet:.2f} s with a preview every 100 steps")
        for every in (1, 10):
            seconds = statistics.median(timings[every])
            cost = 100 * (seconds / quiet - 1)
            print(f"  a preview every {every} step(s): {seconds:.2f} s, streaming costs {cost:+.1f}%")
    finally:
        app.demo.close()


if __name__ == "__main__":
    main()
