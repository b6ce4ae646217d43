"""Visitors' runs batched on a GPU server (studio/batches.py), run here on a CPU with batching forced on; fp32,
the tiny network in-process and the real weights through the studio's API."""

import threading

import pytest

from nst_core import Settings
from nst_core.together import Together
from studio.batches import Batches

from .conftest import gradient_image

BASE = dict(size=48, iterations=12, device="cpu", coarse_to_fine=False, precision="fp32")


def visitor(batches, tiny, seed, results, *, settings=None, stop_at=None):
    """One visitor's job in its own thread, as Gradio runs each: the steps it saw, or the error it got."""

    def job():
        events = batches.events(gradient_image(80, 60, seed=seed), gradient_image(64, 64, seed=seed + 1),
                                settings or Settings(**BASE), backbone=tiny)
        try:
            for event in events:
                results.setdefault(seed, []).append(event.step)
                if event.step == stop_at:
                    events.close()  # the visitor pressed Stop
                    return
        except Exception as error:  # noqa: BLE001 - what the visitor would be told
            results[seed] = error

    thread = threading.Thread(target=job)
    thread.start()
    return thread


@pytest.fixture
def batch_sizes(monkeypatch):
    """The number of runs in each batched pass of the network."""
    sizes = []
    evaluate = Together.evaluate

    def counted(self, indices):
        sizes.append(len(indices))
        evaluate(self, indices)

    monkeypatch.setattr(Together, "evaluate", counted)
    return sizes


def test_runs_that_start_together_share_a_batch(tiny, batch_sizes):
    batches, results = Batches(3, gather=2.0), {}
    for thread in [visitor(batches, tiny, seed, results) for seed in (1, 3, 5)]:
        thread.join(60)
    assert results == {seed: list(range(1, 13)) for seed in (1, 3, 5)}
    assert batch_sizes == [3] * 12


def test_a_visitor_who_stops_leaves_the_others_running(tiny, batch_sizes):
    batches, results = Batches(3, gather=2.0), {}
    threads = [visitor(batches, tiny, 1, results), visitor(batches, tiny, 3, results, stop_at=4),
               visitor(batches, tiny, 5, results)]
    for thread in threads:
        thread.join(60)
    assert results[3] == [1, 2, 3, 4] and results[1] == results[5] == list(range(1, 13))
    assert batch_sizes[0] == 3 and batch_sizes[-1] == 2  # the stopped run left the batch


def test_runs_of_another_shape_are_not_batched_with_them(tiny, batch_sizes):
    batches, results = Batches(3, gather=1.0), {}
    threads = [visitor(batches, tiny, 1, results), visitor(batches, tiny, 3, results),
               visitor(batches, tiny, 5, results, settings=Settings(**{**BASE, "size": 64}))]
    for thread in threads:
        thread.join(60)
    assert all(results[seed] == list(range(1, 13)) for seed in (1, 3, 5))
    assert sorted(set(batch_sizes)) == [1, 2]  # the two 48 px runs together, the 64 px one alone


def test_a_full_batch_starts_without_waiting_and_the_next_run_starts_another(tiny, batch_sizes):
    batches, results = Batches(2, gather=30.0), {}  # only a full batch can start before 30 s
    threads = [visitor(batches, tiny, seed, results) for seed in (1, 3)]
    for thread in threads:
        thread.join(20)
    assert results == {1: list(range(1, 13)), 3: list(range(1, 13))} and batch_sizes == [2] * 12


def test_a_batch_that_fails_tells_every_visitor(tiny, monkeypatch):
    def broken(self, indices):
        raise RuntimeError("a bug in the batched pass")

    monkeypatch.setattr(Together, "evaluate", broken)
    batches, results = Batches(2, gather=2.0), {}
    for thread in [visitor(batches, tiny, seed, results) for seed in (1, 3)]:
        thread.join(60)
    assert all(isinstance(results[seed], RuntimeError) for seed in (1, 3))


def test_alone_without_a_thread_where_batches_are_off(tiny, monkeypatch):
    monkeypatch.setattr(threading, "Thread", None)  # Batches(1) must not start one
    events = list(Batches(1).events(gradient_image(80, 60), gradient_image(64, 64), Settings(**BASE), backbone=tiny))
    assert [e.step for e in events] == list(range(1, 13))


@pytest.mark.server
def test_two_visitors_runs_share_a_batch_through_the_studio(monkeypatch, batch_sizes, files, real_weights, tmp_path):
    """The studio as a GPU server would run it (batches of 2 forced on here): two visitors press Run at once, both
    runs come back done, computed in one batch."""
    from gradio_client import Client

    from studio import Limits, build_demo, page

    from .apphelpers import free_port, small_job, wait_job

    monkeypatch.setenv("NST_WEIGHTS", str(real_weights.resolve()))
    monkeypatch.setattr(page, "batch_size", lambda asked: 2)
    demo = build_demo(Limits())
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}"
        clients = [Client(url, verbose=False, download_files=str(tmp_path / name)) for name in ("a", "b")]
        jobs = [small_job(client, files, iterations=6) for client in clients]
        for job in jobs:
            wait_job(job, 120)
        assert all("Done" in job.result()[1] for job in jobs), [job.result()[1] for job in jobs]
        assert batch_sizes and set(batch_sizes) == {2}
    finally:
        demo.close()


def test_batches_only_on_a_gpu_server(monkeypatch):
    from studio.batches import batch_size

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert batch_size(4) == 1  # a CPU: the network is arithmetic-bound already
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert batch_size(4) == 4
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert batch_size(4) == 1  # ZeroGPU: each job is a call in a process of its own
