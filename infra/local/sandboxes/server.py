"""One way to serve a sandbox: its request handler on a loopback port, in a daemon thread.

The four sandboxes (payments, WeCom, the mini program's login, WeChat Store) differ in what they
answer, not in how they are served; this is the how. ``stop`` returns within about a tenth of a
second (the serving loop polls for shutdown every ``POLL_SECONDS``), which matters to tests that
start and stop every sandbox per test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POLL_SECONDS = 0.05


class SandboxServer:
    """``handler`` is the sandbox's request handler class; it gets ``sandbox`` and ``resets`` as
    class attributes (``POST /sandbox/reset`` runs every function in ``resets``)."""

    name = "sandbox"

    def __init__(self, sandbox: Any, handler: type[BaseHTTPRequestHandler], host: str, port: int) -> None:
        self.sandbox = sandbox
        self.resets: list[Callable[[], None]] = [sandbox.reset]
        """What ``POST /sandbox/reset`` resets: this sandbox, and the local stack's others."""
        bound = type("Handler", (handler,), {"sandbox": sandbox, "resets": self.resets})
        self._server = ThreadingHTTPServer((host, port), bound)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_SECONDS,), name=self.name, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
