"""Seconds from Run to the first streamed preview, through the real app and gradio_client.

    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.first_preview
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from gradio_client import Client, handle_file

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    import app  # imported here: it builds the page and sets torch's threads

    port = free_port()
    app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        for label in ("first run (loads the weights)", "second run"):
            start = time.perf_counter()
            job = client.submit(handle_file(str(SHARED_IMAGES / "tubingen.jpg")),
                                handle_file(str(SHARED_IMAGES / "starry_night.jpg")), api_name="/stylize")
            first = None
            for image, status, *_ in job:
                if image and status.startswith("Step") and first is None:
                    first = time.perf_counter() - start
                    print(f"  status then: {status.splitlines()[0]}")
                    job.cancel()
                    break
            print(f"{label}: first preview after {first:.2f} s (default settings)")
            time.sleep(1.0)
    finally:
        app.demo.close()


if __name__ == "__main__":
    main()
