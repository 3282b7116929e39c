"""One way to serve a sandbox: its request handler on a loopback port, in a daemon thread.

The four sandboxes (payments, WeCom, the mini program's login, WeChat Store) differ in what they
answer, not in how they are served; this is the how. ``stop`` returns within about a tenth of a
second (the serving loop polls for shutdown every ``POLL_SECONDS``), which matters to tests that
start and stop every sandbox per test.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POLL_SECONDS = 0.05


class JsonHandler(BaseHTTPRequestHandler):
    """A sandbox's requests: quiet, the path, query and JSON body parsed, answers in JSON. A
    sandbox routes them in ``_route``; a body that is not JSON gets ``not_json`` (WeChat's own
    answer by default)."""

    sandbox: Any
    resets: list[Callable[[], None]]
    not_json: tuple[int, Any] = (200, {"errcode": 47001, "errmsg": "data format error"})

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _reply(self, status: int, document: Any) -> None:
        body = json.dumps(document, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        raise NotImplementedError

    def _dispatch(self, method: str) -> None:
        parsed = urllib.parse.urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._reply(*self.not_json)
            return
        self._route(method, parsed.path, dict(urllib.parse.parse_qsl(parsed.query)), body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")


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
