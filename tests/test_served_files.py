"""What the server keeps and serves: every file a job leaves in Gradio's cache is aged out, a repeated frame is
never rewritten while served, and uploaded HTML, SVG or scripts are never served to render in the browser."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import gradio as gr
import httpx
import pytest
from gradio_client import Client
from PIL import Image

from .apphelpers import (  # noqa: F401  (app_server is a fixture)
    api_data,
    app_server,
    raw_call,
    report,
    small_job,
    upload,
    wait_job,
)

pytestmark = pytest.mark.server


def test_every_file_a_job_leaves_in_the_cache_is_removed_by_age(inprocess_app, files, tmp_path):
    """Gradio's delete_cache removes only files it tracks, and it does not track outputs of sessions that got a
    gr.skip(); what a job leaves must be tracked or in the folders the app ages out itself."""
    app, url = inprocess_app
    job = small_job(Client(url, verbose=False, download_files=str(tmp_path / "c")), files, iterations=3,
                    style_weight_log10=3.3)
    wait_job(job, 30)
    assert "Done" in job.result()[1]
    cache = Path(os.environ["GRADIO_TEMP_DIR"])
    tracked = set().union(*app.demo.temp_file_sets)
    kept = set().union(*(getattr(block, "keep_in_cache", set()) for block in app.demo.blocks.values()))
    present = {str(path) for path in cache.rglob("*") if path.is_file()}
    served = app.demo.files
    aged_by_app = {path for path in present
                   if Path(path).is_relative_to(served.outputs) or Path(path).is_relative_to(served.frames)}
    untracked = sorted(present - tracked - kept - aged_by_app)
    report(f"Gradio cache: {len(present)} files: {len(present & tracked)} tracked by delete_cache, "
           f"{len(present & kept)} kept (gallery), {len(aged_by_app)} aged out by the app")
    assert not untracked, f"files nothing will ever remove: {untracked[:5]}"
    assert any(Path(path).is_relative_to(app.demo.files.frames) for path in aged_by_app), "no streamed frame found"
    assert any(Path(path).is_relative_to(app.demo.files.outputs) for path in aged_by_app), "no download PNG found"


def test_a_repeated_frame_is_never_rewritten_while_served(inprocess_app):
    """Byte-identical frames (same photo, painting and settings in two sessions) share one cache file; it is
    written once, atomically, so a download of it is never cut short by another session's rewrite."""
    app, _ = inprocess_app
    component = gr.Image(format="webp")  # the result's component: the tab sends it the frame's path

    def send(image: Image.Image) -> str:
        return component.postprocess(app.demo.files.frame(image, "webp")).path

    image = Image.effect_noise((256, 192), 40).convert("RGB")  # stock gr.Image gave ~600 short reads of 25000
    first = send(image)
    size, inode = os.stat(first).st_size, os.stat(first).st_ino
    stop = threading.Event()

    def resend() -> None:
        for _ in range(100):
            if stop.is_set():
                return
            send(image.copy())

    writer = threading.Thread(target=resend, daemon=True)
    writer.start()
    short_reads = 0
    deadline = time.monotonic() + 5
    while writer.is_alive() and time.monotonic() < deadline:
        short_reads += len(Path(first).read_bytes()) != size
    stop.set()
    writer.join(5)
    assert send(image) == first
    assert os.stat(first).st_ino == inode and short_reads == 0


ACTIVE = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml",
          "application/javascript", "text/javascript")


def test_uploaded_html_and_svg_are_not_served_inline(app_server, files, tmp_path):  # noqa: F811
    script = "<script>document.title='pwned'</script>"
    samples = {
        "page.html": f"<html><body>{script}</body></html>",
        "page.htm": f"<html>{script}</html>",
        "page.xhtml": f'<html xmlns="http://www.w3.org/1999/xhtml">{script}</html>',
        "drawing.svg": f'<svg xmlns="http://www.w3.org/2000/svg">{script}</svg>',
        "feed.xml": '<?xml version="1.0"?><x xmlns:h="http://www.w3.org/1999/xhtml"><h:script>1</h:script></x>',
        "code.js": "document.title='pwned'",
        "fake.png": f"<html>{script}</html>",
        "noext": f"<html>{script}</html>",
    }
    style = upload(app_server, files["style"])
    seen = {}
    for name, text in samples.items():
        path = tmp_path / name
        path.write_text(text)
        uploaded = upload(app_server, path)
        # Also pass it through the app as an input (Gradio marks some SVG inputs as static files).
        raw_call(app_server, json.dumps({"data": api_data(uploaded, style)}), timeout=20)
        response = httpx.get(f"{app_server.url}/gradio_api/file={uploaded['path']}", timeout=10)
        assert response.status_code == 200, (name, response.status_code)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        disposition = response.headers.get("content-disposition", "").lower()
        seen[name] = (content_type, disposition.split(";")[0])
        assert content_type not in ACTIVE or disposition.startswith("attachment"), (name, content_type, disposition)
        assert not content_type.startswith("text/html"), (name, content_type)
    report(f"served uploads: {seen}")
