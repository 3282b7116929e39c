"""A local stand-in for the mini program's login API on api.weixin.qq.com.

API: ``GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`` →
``{"openid", "session_key", "unionid"?}``, or WeChat's errors: 40013 invalid appid, 40125
invalid appsecret, 40002 invalid grant_type, 41008 missing code, 40029 invalid code (unknown
or older than 5 minutes), 40163 code been used. Faults queue per call:
``POST /sandbox/miniprogram/faults {"faults": [45011, -1, 40226]}``.

Control (what happens in the user's WeChat):
- ``POST /sandbox/miniprogram/code`` ``{"openid", "unionid"?}`` → ``{"code"}``: what
  ``wx.login()`` hands the mini program of that user (no ``unionid``: a user of a mini program
  not bound to an Open Platform account);
- ``GET /sandbox/miniprogram/state``: codes issued and used, calls.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.sandboxes.server import JsonHandler, SandboxServer

CODE_SECONDS = 300


@dataclass
class MiniProgramSandbox:
    appid: str
    secret: str
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: deque[int] = field(default_factory=deque)
    calls: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def issue_code(self, request: dict[str, Any]) -> dict[str, Any]:
        openid = request["openid"]
        if not isinstance(openid, str) or not openid:
            raise ValueError("openid is required")
        unionid = request.get("unionid")
        with self.lock:
            code = secrets.token_hex(16)
            self.codes[code] = {"openid": openid, "unionid": unionid, "issued": time.time(), "used": False}
        return {"code": code}

    def jscode2session(self, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.calls.append("/sns/jscode2session")
            if self.faults:
                code = self.faults.popleft()
                return {"errcode": code, "errmsg": f"sandbox fault {code}"}
            if query.get("appid") != self.appid:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("secret") != self.secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            if query.get("grant_type") != "authorization_code":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if not query.get("js_code"):
                return {"errcode": 41008, "errmsg": "missing code"}
            issued = self.codes.get(query["js_code"])
            if issued is None or issued["issued"] + CODE_SECONDS < time.time():
                return {"errcode": 40029, "errmsg": "invalid code"}
            if issued["used"]:
                return {"errcode": 40163, "errmsg": "code been used"}
            issued["used"] = True
            answer = {
                "openid": issued["openid"],
                "session_key": hashlib.sha256(query["js_code"].encode()).hexdigest()[:24],
            }
            if issued["unionid"]:
                answer["unionid"] = issued["unionid"]
            return answer

    def reset(self) -> None:
        """No codes, faults or calls."""
        with self.lock:
            self.codes.clear()
            self.faults.clear()
            self.calls.clear()

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "codes": [{k: v for k, v in c.items() if k != "issued"} for c in self.codes.values()],
                "calls": list(self.calls),
            }


class _Handler(JsonHandler):
    sandbox: MiniProgramSandbox
    resets: list[Callable[[], None]]
    not_json = (400, {"error": "the body is not JSON"})

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        if path == "/sns/jscode2session" and method == "GET":
            self._reply(200, self.sandbox.jscode2session(query))
        elif path == "/sandbox/miniprogram/code" and method == "POST":
            try:
                self._reply(200, self.sandbox.issue_code(body))
            except (KeyError, ValueError) as error:
                self._reply(400, {"error": f"openid is required ({error})"})
        elif path == "/sandbox/miniprogram/faults" and method == "POST":
            with self.sandbox.lock:
                self.sandbox.faults.extend(int(code) for code in body.get("faults", []))
                self._reply(200, {"faults": list(self.sandbox.faults)})
        elif path == "/sandbox/reset" and method == "POST":
            for reset in self.resets:
                reset()
            self._reply(200, {"reset": True})
        elif path == "/sandbox/miniprogram/state":
            self._reply(200, self.sandbox.state())
        else:
            self._reply(404, {"error": f"no route {path}"})


class MiniProgramSandboxServer(SandboxServer):
    name = "mini program (jscode2session)"

    def __init__(self, sandbox: MiniProgramSandbox, host: str, port: int) -> None:
        super().__init__(sandbox, _Handler, host, port)
