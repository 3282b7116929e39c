"""The mini program's login API (``sns/jscode2session`` on api.weixin.qq.com).

``wx.login()`` in the mini program yields a ``js_code`` (single use, 5 minutes); the server
exchanges it with the app's ``appid`` and ``secret`` for the user's ``openid`` (per app) and,
when the mini program is bound to the merchant's Open Platform account, ``unionid`` (per
merchant: our customer id). The ``session_key`` in the answer is dropped at once: we neither
decrypt user data nor keep it.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from incentives.wecom.token_client import JsonTransport, urllib_transport

PRODUCTION_BASE_URL = "https://api.weixin.qq.com"


class MiniProgramApiError(Exception):
    """A non-zero ``errcode`` (40029 invalid code, 40163 code used, 45011 rate limit, -1 busy …)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"jscode2session: errcode {errcode}, {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class MiniProgramUser:
    openid: str
    unionid: str | None


class MiniProgramClient:
    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base_url: str = PRODUCTION_BASE_URL,
        transport: JsonTransport = urllib_transport,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.appid = appid
        self._secret = secret
        self._base = base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout_seconds

    def code_to_session(self, js_code: str) -> MiniProgramUser:
        """The user a ``js_code`` belongs to; :class:`MiniProgramApiError` on a WeChat error.

        Network failures (``OSError``, timeouts) and unreadable answers are left to the caller.
        """
        query = urllib.parse.urlencode(
            {
                "appid": self.appid,
                "secret": self._secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
            }
        )
        answer = json.loads(
            self._transport("GET", f"{self._base}/sns/jscode2session?{query}", None, self._timeout)
        )
        if not isinstance(answer, dict):
            raise ValueError("jscode2session answered something other than a JSON object")
        errcode = int(answer.get("errcode") or 0)
        if errcode:
            raise MiniProgramApiError(errcode, str(answer.get("errmsg", "")))
        openid = answer.get("openid")
        if not isinstance(openid, str) or not openid:
            raise ValueError("jscode2session answered no openid")
        unionid = answer.get("unionid")
        return MiniProgramUser(openid, unionid if isinstance(unionid, str) and unionid else None)
