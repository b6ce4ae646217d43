"""A classroom burst against a real server: N visitors press Run within a few seconds.

    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.burst --visitors 30

Starts `python app.py` on a free loopback port (one compute slot, as a free two-core Space) and runs two
bursts, one after the other, each visitor a gradio_client session submitting one small /stylize job at a
random moment within `--spread` seconds:
- with a gallery painting a shipped fast network knows (the studio shows its picture before the job starts),
- with a painting no network knows (the reference: the first picture is the optimisation's first preview).
For each burst: seconds from pressing Run to the first picture (median, 90th percentile, worst, the share
within 5 s), to the job's own first step, and to its end; and whether the jobs were served in the order they
arrived (pairs served out of order). Loopback only; every wait is bounded by `--timeout`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from gradio_client import Client, handle_file

from nst_core.fast.apply import shipped_models, shipped_styles

from .studio import SHARED_IMAGES, free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Visit:
    index: int
    pressed: float = 0.0
    first_picture: float | None = None
    first_step: float | None = None
    done: float | None = None
    error: str | None = None
    statuses: list[str] = field(default_factory=list)


def start_server(visitors: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "NST_COMPUTE_SLOTS": "1", "NST_QUEUE_SIZE": str(visitors + 4),
           "NO_PROXY": "127.0.0.1,localhost"}
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the server did not start within 180 s")


def visit(client: Client, record: Visit, painting, size: int, iterations: int, start: float, deadline: float) -> None:
    photo = handle_file(str(SHARED_IMAGES / ("tubingen.jpg" if record.index % 2 else "golden_gate.jpg")))
    record.pressed = time.monotonic() - start
    try:
        job = client.submit(photo, painting, api_name="/stylize", size=size, iterations=iterations)
        for image, status, *_ in job:
            now = time.monotonic() - start
            if isinstance(status, str):
                record.statuses.append(status)
                if record.first_step is None and status.startswith("Step"):
                    record.first_step = now
            if record.first_picture is None and isinstance(image, str):
                record.first_picture = now
            if time.monotonic() > deadline:
                job.cancel()
                record.error = "timed out"
                return
        job.result()
        record.done = time.monotonic() - start
        # gradio_client's iteration can end before a quick job's last outputs arrive: count those at the end.
        for image, status, *_ in job.outputs():
            if record.first_picture is None and isinstance(image, str):
                record.first_picture = record.done
            if record.first_step is None and isinstance(status, str) and status.startswith(("Step", "**Done")):
                record.first_step = record.done
    except Exception as error:  # noqa: BLE001 - a benchmark records what each visitor saw
        record.error = str(error)[:120]


def burst(url: str, painting, visitors: int, spread: float, size: int, iterations: int, timeout: float) -> list[Visit]:
    clients = [Client(url, verbose=False) for _ in range(visitors)]  # each a session, made before the burst
    records = [Visit(i) for i in range(visitors)]
    moments = sorted(random.Random(0).uniform(0, spread) for _ in range(visitors))
    start = time.monotonic()
    deadline = start + timeout
    threads = []
    for client, record, moment in zip(clients, records, moments):
        time.sleep(max(0.0, start + moment - time.monotonic()))
        thread = threading.Thread(target=visit, args=(client, record, painting, size, iterations, start, deadline))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic() + 30))
    return records


def report(label: str, records: list[Visit]) -> None:
    waits = sorted(r.first_picture - r.pressed for r in records if r.first_picture is not None)
    starts = [r for r in records if r.first_step is not None]
    order = sorted(starts, key=lambda r: r.pressed)
    # Pairs started out of arrival order (the board is first come, first served; small inversions can come
    # from the moments two submissions reach the server).
    inversions = sum(1 for i, a in enumerate(order) for b in order[i + 1:] if b.first_step < a.first_step)
    done = [r.done - r.pressed for r in records if r.done is not None]
    print(f"### {label}")
    if waits:
        within = sum(w <= 5 for w in waits)
        print(f"  first picture: median {statistics.median(waits):.1f} s, 90th percentile "
              f"{waits[int(0.9 * (len(waits) - 1))]:.1f} s, worst {waits[-1]:.1f} s; {within}/{len(records)} "
              "within 5 s")
    if starts:
        print(f"  own job's first step: median {statistics.median(r.first_step - r.pressed for r in starts):.1f} s; "
              f"{inversions} of {len(order) * (len(order) - 1) // 2} pairs started out of arrival order")
    if done:
        print(f"  finished: {len(done)}/{len(records)}, median {statistics.median(done):.1f} s, "
              f"worst {max(done):.1f} s")
    errors = [r.error for r in records if r.error]
    if errors:
        print(f"  {len(errors)} visitors saw an error, e.g. {errors[0]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--spread", type=float, default=3.0, help="seconds over which the visitors press Run")
    parser.add_argument("--size", type=int, default=128, help="each job's output size")
    parser.add_argument("--iterations", type=int, default=10, help="each job's steps")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a burst may take in all")
    parser.add_argument("--bursts", nargs="+", default=["fast", "reference"], choices=["fast", "reference"])
    args = parser.parse_args()
    if not shipped_models():
        raise SystemExit("no shipped fast model in styles/fast")
    known = next(iter(shipped_styles()))  # a gallery name: the studio finds the network trained on it
    paintings = {"fast": (known, f"a painting a shipped network knows ({known})"),
                 "reference": (handle_file(str(SHARED_IMAGES / "the_scream.jpg")), "a painting no network knows")}
    server, url = start_server(args.visitors, Path(os.environ.get("TMPDIR", "/tmp")) / "bench-burst-server.log")
    try:
        print(f"## {args.visitors} visitors press Run within {args.spread:g} s ({args.size} px, {args.iterations} "
              "steps each; one compute slot)")
        for name in args.bursts:
            painting, label = paintings[name]
            report(label, burst(url, painting, args.visitors, args.spread, args.size, args.iterations, args.timeout))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
