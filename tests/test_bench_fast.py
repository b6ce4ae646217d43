"""The fast-network benchmarks run as a developer runs them (subprocesses, tiny sizes): their tables hold
measured, self-consistent numbers. Speed itself is never asserted."""

from __future__ import annotations

import json

import pytest

from nst_core.fast.apply import shipped_models

from .test_bench import bench, table_rows

pytestmark = pytest.mark.skipif(not shipped_models(), reason="no shipped fast models in styles/fast")


def test_fast_bench_times_both_widths_against_an_engine_step(shared_images, tmp_path):
    out = tmp_path / "fast.json"
    result = bench("bench.fast", "--parts", "inference", "training", "--sizes", "64", "--rounds", "1", "--steps", "1",
                   "--threads", "1", "--weights", "untrained", "--json", str(out))
    rows = table_rows(result.stdout)
    assert [row[1] for row in rows] == ["slim", "full"] and rows[0][0] == "64×48"
    report = json.loads(out.read_text())
    slim, full = report["inference"]
    assert full["gflop"] > 5 * slim["gflop"] > 0  # the analytic count: full is Johnson's width
    assert slim["engine_step_ms"] == full["engine_step_ms"] > 0
    assert "one engine step at 64×48" in result.stdout and "the whole of `apply` at 64 px" in result.stdout
    assert report["training"]["seconds_per_step"] > 0 and "steps (the shipped recipe)" in result.stdout
    assert all(f"shipped {name}:" in result.stdout for name in shipped_models())


@pytest.mark.server
def test_burst_bench_reports_first_pictures_order_and_ends(real_weights, shared_images):
    result = bench("bench.burst", "--visitors", "2", "--spread", "0.5", "--size", "64", "--iterations", "1",
                   "--timeout", "120", env={"NST_WEIGHTS": str(real_weights)})
    out = result.stdout
    assert out.count("first picture: median") == 2 and out.count("finished: 2/2") == 2, out
    assert "a painting a shipped network knows" in out and "a painting no network knows" in out
    assert "pairs started out of arrival order" in out and "saw an error" not in out


@pytest.mark.server
def test_webcam_bench_streams_frames_through_the_studio(shared_images, tmp_path):
    out = tmp_path / "webcam.json"
    result = bench("bench.fast", "--parts", "webcam", "--frames", "4", "--every", "0.2", "--json", str(out))
    webcam = json.loads(out.read_text())["webcam"]
    assert webcam["every_s"] == 0.2 and webcam["sent"] == 4
    assert 1 <= webcam["received"] <= 4, result.stdout  # a frame answered, none invented
    assert webcam["frames_per_s"] > 0 and webcam["network_ms"] > 0
    assert "stylized frames/s came back" in result.stdout


def test_runtimes_bench_compares_each_way_to_run_the_network_with_eager(shared_images, tmp_path):
    """Eager, channels_last, bf16 and ONNX Runtime (a development requirement: CI measures it) at one size; the
    ratio column is eager's time over each way's."""
    out = tmp_path / "runtimes.json"
    result = bench("bench.fast", "--parts", "runtimes", "--sizes", "64", "--rounds", "2", "--threads", "1",
                   "--no-compile", "--weights", "untrained", "--json", str(out))
    ways = json.loads(out.read_text())["runtimes"]
    assert [way["way"] for way in ways] == ["eager (NCHW)", "channels_last", "bf16 autocast", "ONNX Runtime"]
    eager = ways[0]["ms"]
    for way in ways:
        assert way["vs_eager"] == pytest.approx(eager / way["ms"], rel=1e-6) and way["ms"] > 0
    assert ways[-1]["once_s"] > 0 and "bf16 " in result.stdout
