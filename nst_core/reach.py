"""Whether this machine can fetch weights from a source's host now, so a front end offers only what works here.

A host is asked in the background (a TCP connection, never a download) and its answer kept for a while; until it
has answered it counts as reachable, which costs at most one refused run. A failed download tells it too
(`backbones._download_state`), so an offline server stops offering the source at once.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
import urllib.request

REMEMBER_SECONDS = 600.0  # a laptop comes back online: ask again after this long
ASK_TIMEOUT = 3.0  # seconds a connection may take before the host counts as unreachable

_answers: dict[str, tuple[bool, float]] = {}  # host -> (reachable, when it was known)
_asking: dict[str, threading.Thread] = {}  # host -> the thread asking it
_lock = threading.Lock()


def host_of(url: str) -> str:
    return urllib.parse.urlparse(url).hostname or url


def reachable(url: str, *, wait: bool = False) -> bool:
    """The last answer for `url`'s host (True while none is known yet); a stale or missing answer is asked for in
    a background thread, so a page never waits on the network. `wait`: with no answer yet, wait for this one (at
    most ASK_TIMEOUT), for a default that must not depend on how fast the host answers."""
    host, now = host_of(url), time.monotonic()
    with _lock:
        answer = _answers.get(host)
        if (answer is None or now - answer[1] > REMEMBER_SECONDS) and host not in _asking:
            _asking[host] = threading.Thread(target=_ask, args=(url,), name=f"reach {host}", daemon=True)
            _asking[host].start()
        asking = _asking.get(host)
    if answer is None and wait and asking is not None:
        asking.join(ASK_TIMEOUT + 1)
        with _lock:
            answer = _answers.get(host)
    return True if answer is None else answer[0]


def unreachable(url: str) -> None:
    """A download from `url` failed: its host counts as unreachable until asked again."""
    with _lock:
        _answers[host_of(url)] = (False, time.monotonic())


def first_hop(url: str) -> tuple[str, int]:
    """Where a download of `url` connects first: the proxy urllib would use (torch.hub downloads through urllib),
    else the host itself."""
    target = urllib.parse.urlparse(url)
    proxy = urllib.request.getproxies().get(target.scheme)
    if proxy and not urllib.request.proxy_bypass(target.hostname or ""):
        target = urllib.parse.urlparse(proxy if "://" in proxy else f"http://{proxy}")
    return target.hostname or "", target.port or (443 if target.scheme == "https" else 80)


def _ask(url: str) -> None:
    try:
        socket.create_connection(first_hop(url), timeout=ASK_TIMEOUT).close()
        answer = True
    except OSError:  # no route, no name resolution, refused, timed out: all mean it cannot be fetched now
        answer = False
    with _lock:
        _answers[host_of(url)] = (answer, time.monotonic())
        _asking.pop(host_of(url), None)

