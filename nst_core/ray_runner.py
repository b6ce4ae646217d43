"""A batch's items as Ray tasks (batch.py): one task per item, outcomes back as they finish, a lost worker's item
re-run by Ray. Ray is an optional extra (requirements-ray.txt), imported only here.

The painter travels once, through Ray's object store, to the machines that run tasks: they need this project's
code and its packages, but not the weights, the gallery or the network files. Each task reads its input by path
(a clip may be large), so IN must be at the same path on every machine; outputs come back to this process, which
writes them, so OUT_DIR need only be here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence

from .batch_items import Item, Job, Outcome, Painter, attempt
from .errors import NSTError

# A task is re-run up to this many times when its worker is lost (the process killed, out of memory, the machine
# gone); an item that fails with a sentence is an outcome, not an exception, so it is never re-run.
MAX_RETRIES = 3
CONNECT_SECONDS = 5  # for the head to answer at all


def import_ray():
    try:
        import ray
    except ImportError:
        raise NSTError("--ray needs Ray, which is not installed: pip install -r requirements-ray.txt") from None
    return ray


def connect(ray, address: str) -> bool:
    """Join the cluster at `address`, or start one here for "local"; whether this call started the connection
    (a caller that had already connected, a test, keeps its own)."""
    if ray.is_initialized():
        return False
    if address != "local":
        check_answers(address)
    try:
        if address == "local":
            ray.init(include_dashboard=False, logging_level="ERROR")
        else:
            ray.init(address=address, logging_level="ERROR")
    except Exception as error:  # Ray raises several kinds here (ConnectionError, RuntimeError, ValueError)
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        # A `ray start` cluster checks a token by default from Ray 2.59 on, and a driver without it sees only this.
        hint = "" if address == "local" else (" (a cluster with token authentication also needs RAY_AUTH_MODE=token "
                                              "and its token here: see docs/batch.md)")
        raise NSTError(f"Could not join the Ray cluster at {address!r}: {detail.rstrip('.')}{hint}.") from None
    return True


def check_answers(address: str) -> None:
    """Refuse, at once, an address where nothing listens: Ray's own client would retry it for minutes, printing a
    warning every few seconds. Addresses that are not HOST:PORT ("auto") are left to Ray."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError:
        raise NSTError(f"Nothing answers at {address!r}: start the cluster there with `ray start --head`, or give the "
                       "address that `ray start` printed.") from None


def run_on_ray(address: str, items: Sequence[Item], painter: Painter, job: Job, *,
               wants_gpu: bool) -> Iterator[Outcome]:
    """`batch_items.attempt(item, painter, job)` for every item as a Ray task, its outcomes in the order they
    finish. A task asks for a whole GPU where it uses one (`wants_gpu`: the engine does, a fast network here paints
    on the CPU) and the cluster has any. Ray is imported and the cluster joined at once, so a mistake there is heard
    before any work; the tasks are sent once the outcomes are asked for."""
    ray = import_ray()
    return outcomes(ray, connect(ray, address), items, painter, job, wants_gpu)


def outcomes(ray, started: bool, items: Sequence[Item], painter: Painter, job: Job,
             wants_gpu: bool) -> Iterator[Outcome]:
    try:
        gpus = 1 if wants_gpu and ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(attempt).options(num_cpus=1, num_gpus=gpus, max_retries=MAX_RETRIES)
        shared = ray.put(painter)
        pending = {task.remote(item, shared, job): item for item in items}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            item = pending.pop(ready[0])
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayTaskError:
                raise  # a bug in the task's code: as loud as it would be here
            except ray.exceptions.RayError as error:
                yield Outcome(item, None, f"Its Ray worker was lost {MAX_RETRIES + 1} times "
                                          f"({type(error).__name__}); run again to retry it.")
    finally:
        if started:
            ray.shutdown()

