"""What the server reveals: an SSRF canary gets no request from any URL a caller sends, and errors show no
traceback, path or environment value."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file

from .apphelpers import (  # noqa: F401  (app_server is a fixture)
    api_data,
    app_server,
    assert_no_leak,
    new_client,
    raw_call,
    report,
    upload,
)

pytestmark = pytest.mark.server


class Canary(http.server.ThreadingHTTPServer):
    """Counts every connection and request; serves a valid PNG so a fetch would succeed."""

    daemon_threads = True

    def __init__(self, png: bytes) -> None:
        self.png = png
        self.connections = 0
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), CanaryHandler)

    def verify_request(self, request, client_address) -> bool:
        self.connections += 1
        return True


class CanaryHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.server.png)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.server.png)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def canary(files):
    server = Canary(files["content"].read_bytes())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_ssrf_canary_gets_no_requests(app_server, files, canary, weights_secret):  # noqa: F811
    port = canary.server_address[1]
    urls = [f"http://127.0.0.1:{port}/x.png", f"http://localhost:{port}/x.png", f"https://127.0.0.1:{port}/x.png",
            f"http://2130706433:{port}/x.png", f"//127.0.0.1:{port}/x.png"]
    meta = {"_type": "gradio.FileData"}
    forms = []
    for url in urls:
        forms += [{"path": url, "url": url, "orig_name": "x.png", "meta": meta},
                  {"path": "x.png", "url": url, "orig_name": "x.png", "meta": meta},
                  {"path": url, "meta": meta},
                  {"url": url, "meta": meta},
                  {"path": url},
                  url]
    # Positive control: the canary does count what reaches it.
    assert httpx.get(urls[0], timeout=5).content == canary.png and canary.connections == 1
    canary.connections, canary.requests[:] = 0, []
    content, style = upload(app_server, files["content"]), upload(app_server, files["style"])
    messages = []
    started = time.monotonic()
    for index, form in enumerate(forms):
        slot = ("content", "style", "style_2", "style_3")[index % 4]
        values = {"content": content, "style": style, slot: form}
        data = api_data(**values)
        events = raw_call(app_server, json.dumps({"data": data}), timeout=20)
        assert events and events[-1][0] in ("error", "http"), (form, events[-2:])
        messages.append(json.dumps(events[-1][1]))
    # The file route fetches http(s) URLs itself (public addresses only); the proxy route likewise.
    for url in urls[:4]:
        for route in ("/gradio_api/file=", "/gradio_api/proxy=", "/file=", "/proxy="):
            response = httpx.get(app_server.url + route + url, timeout=10)
            assert response.status_code != 200 or response.content != canary.png, (route, url)
    time.sleep(0.5)  # anything in flight would have connected by now
    report(f"SSRF canary: {len(forms)} API calls and {4 * len(urls[:4])} route probes in "
           f"{time.monotonic() - started:.1f} s; canary saw {canary.connections} connections, "
           f"{len(canary.requests)} requests")
    assert canary.connections == 0 and canary.requests == [], canary.requests
    for message in messages:
        assert_no_leak(message, secrets=(weights_secret,))


def test_errors_reveal_no_tracebacks_paths_or_environment(app_server, files, weights_secret, tmp_path):  # noqa: F811
    content, style = upload(app_server, files["content"]), upload(app_server, files["style"])
    bad = upload(app_server, files["bad"])
    meta = {"_type": "gradio.FileData"}
    missing = {"path": str(Path(content["path"]).parent / "gone.png"), "meta": meta}
    cases = {
        "NaN iterations": json.dumps({"data": api_data(content, style, iterations=float("nan"))}),
        "text as PNG": json.dumps({"data": api_data(bad, style)}),
        "weights file as input": json.dumps({"data": api_data({"path": weights_secret, "meta": meta}, style)}),
        "missing upload": json.dumps({"data": api_data(missing, style)}),
        "/etc/passwd": json.dumps({"data": api_data({"path": "/etc/passwd", "meta": meta}, style)}),
        "weights path": json.dumps({"data": api_data(content, style, weights=weights_secret)}),
        "layer weights": json.dumps({"data": api_data(content, style, layer_weights="relu1_1=x")}),
        "style layers not a list": json.dumps({"data": api_data(content, style, style_layers="relu1_1")}),
        "content is a number": json.dumps({"data": api_data(12, style)}),
        "too few values": json.dumps({"data": [content]}),
        "not JSON": "{nope",
        "bad data URL": json.dumps({"data": api_data({"path": "x.png", "url": "data:image/png;base64,@@@",
                                                       "meta": meta}, style)}),
    }
    echoes = {"weights path": (weights_secret,), "/etc/passwd": ("/etc/passwd",)}
    leaks = (weights_secret, str(Path(weights_secret).parent), os.environ.get("HOME", "/root") + "/")
    shown = {}
    for name, body in cases.items():
        events = raw_call(app_server, body, timeout=20)
        assert events, name
        kind, payload = events[-1]
        assert kind in ("error", "http"), (name, events[-2:])
        text = json.dumps(payload)
        for sent in echoes.get(name, ()):
            text = text.replace(sent, "")  # repeating what the caller sent is not a leak
        shown[name] = (payload or {}).get("error") if isinstance(payload, dict) else payload
        assert_no_leak(text, secrets=leaks)
    # The HTTP routes' own errors too.
    for target in ("/gradio_api/file=" + weights_secret, "/gradio_api/upload", "/gradio_api/call/nope",
                   "/gradio_api/queue/data?session_hash=x"):
        method = "POST" if "upload" in target or "call" in target else "GET"
        try:
            body = httpx.request(method, app_server.url + target, timeout=10).text
        except httpx.RemoteProtocolError:  # Gradio drops the stream of an unknown session: nothing shown
            body = ""
        if target.startswith("/gradio_api/file="):
            body = body.replace(weights_secret, "")  # echoing the requested path back is not a leak
        assert_no_leak(body, secrets=leaks)
    # And through gradio_client, the way most API users see them.
    client = new_client(app_server, tmp_path / "downloads")
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(files["bad"]), handle_file(files["style"]), 2, 64, api_name="/stylize")
    assert_no_leak(str(caught.value), secrets=leaks)
    report(f"error messages: {shown}")
