"""A local stand-in for WeCom's server API, and a sender of WeCom's encrypted callbacks.

API (JSON, ``access_token`` on every call but ``gettoken``): gettoken, department/list,
department/get, user/simplelist, user/list_id (cursor-paged), user/get, user/convert_to_openid,
auth/getuserinfo, externalcontact/get,
get_corp_tag_list, add_corp_tag, edit_corp_tag, del_corp_tag, mark_tag, add_contact_way,
send_welcome_msg. Errors carry WeCom's errcodes (40001 / 40014 / 42001 tokens, 45009
frequency, 40029 invalid login code, 60111 unknown userid, 40096 unknown external user, 41051
welcome code expired or used …). Faults queue per call:
``POST /sandbox/wecom/faults {"faults": [42001, 45009]}``; a ``0`` lets its call through, so
``[0, 0, -1]`` fails the third call.

Control (what happens on WeCom's side):
- ``POST /sandbox/wecom/departments`` ``{"id", "name", "parentid"}`` creates or moves a
  department and sends the ``change_contact`` callback (``update_party`` / ``create_party``);
- ``POST /sandbox/wecom/departments/delete`` ``{"id"}``: the department is deleted
  (``delete_party``);
- ``POST /sandbox/wecom/users`` ``{"userid", "name", "department": [..], "status"?}`` likewise for
  members (``status`` as ``user/get`` reports it: 1 active, 2 disabled, 5 left);
- ``POST /sandbox/wecom/users/delete`` ``{"userid"}``: the member leaves; ``change_contact`` /
  ``delete_user`` is sent;
- ``POST /sandbox/oauth/code`` ``{"userid"}`` (a member) or ``{"openid"}`` (someone outside the
  enterprise) → ``{"code"}``: the code WeCom's web OAuth / QR login redirect would carry
  (single use, 5 minutes), for ``auth/getuserinfo``;
- ``POST /sandbox/wecom/scan`` ``{"config_id" | "state", "unionid", "name", "deliveries": 3}``:
  a customer scans a Contact-Me code: a guide of it gets a new external contact, a welcome
  code valid 20 s is issued, and the ``add_external_contact`` callback is delivered
  ``deliveries`` times, each freshly encrypted, as WeCom's retries are;
- ``GET /sandbox/wecom/state``: departments, users, contacts, tags, contact ways, welcome
  messages sent.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from incentives.wecom.crypto import CallbackCrypto
from infra.local.sandboxes.server import JsonHandler, SandboxServer

WELCOME_CODE_SECONDS = 20
LOGIN_CODE_SECONDS = 300


def default_directory() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    departments = [
        {"id": 1, "name": "品牌总部", "parentid": 0, "order": 1},
        {"id": 2, "name": "华东零售公司", "parentid": 1, "order": 1},
        {"id": 21, "name": "上海静安店", "parentid": 2, "order": 1},
        {"id": 22, "name": "上海徐汇店", "parentid": 2, "order": 2},
        {"id": 3, "name": "华南零售公司", "parentid": 1, "order": 2},
        {"id": 31, "name": "深圳南山店", "parentid": 3, "order": 1},
    ]
    users = [
        {"userid": "zhangwei", "name": "张伟", "department": [21]},
        {"userid": "lifang", "name": "李芳", "department": [21]},
        {"userid": "wangqiang", "name": "王强", "department": [22]},
        {"userid": "chenjing", "name": "陈静", "department": [31]},
        {"userid": "ops-li", "name": "李运营", "department": [2]},
    ]
    return departments, users


@dataclass
class WeComSandbox:
    corp_id: str
    secret: str
    crypto: CallbackCrypto
    callback_url: str
    departments: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    tag_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    contact_ways: dict[str, dict[str, Any]] = field(default_factory=dict)
    welcome_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    welcome_sent: list[dict[str, Any]] = field(default_factory=list)
    login_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    faults: deque[int] = field(default_factory=deque)
    calls: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        departments, users = default_directory()
        self.departments = {d["id"]: d for d in departments}
        self.users = {u["userid"]: u for u in users}

    def reset(self) -> None:
        """Back to the default brand: its directory, and no contacts, tags, contact ways, welcome
        messages, login codes, faults or calls. Access tokens already issued stay valid."""
        with self.lock:
            self.__post_init__()
            for book in (
                self.contacts,
                self.tag_groups,
                self.contact_ways,
                self.welcome_codes,
                self.login_codes,
            ):
                book.clear()
            self.welcome_sent.clear()
            self.faults.clear()
            self.calls.clear()

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    # --- API ---------------------------------------------------------------------------------------

    def api(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls.append(path)
            if path == "/cgi-bin/gettoken":
                if query.get("corpid") != self.corp_id or query.get("corpsecret") != self.secret:
                    return {"errcode": 40001, "errmsg": "invalid credential"}
                token = hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:32]
                self.tokens[token] = time.time() + 7200
                return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
            code = self.faults.popleft() if self.faults else 0
            if code:
                if code in (40014, 42001):
                    self.tokens.pop(query.get("access_token", ""), None)
                return {"errcode": code, "errmsg": f"sandbox fault {code}"}
            token = query.get("access_token", "")
            if token not in self.tokens:
                return {"errcode": 40014, "errmsg": "invalid access_token"}
            if self.tokens[token] < time.time():
                return {"errcode": 42001, "errmsg": "access_token expired"}
            by_path = {"/cgi-bin/user/get": self._user_get, "/cgi-bin/department/get": self._department_get}
            handler = by_path.get(path) or getattr(self, "_" + path.rsplit("/", 1)[-1], None)
            if handler is None:
                return {"errcode": 60011, "errmsg": f"no privilege / unknown api {path}"}
            answer: dict[str, Any] = handler(query, body)
            return answer

    def _list(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return {
            "errcode": 0,
            "errmsg": "ok",
            "department": sorted(self.departments.values(), key=lambda d: d["id"]),
        }

    def _department_get(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        department = self.departments.get(int(query.get("id", "0") or 0))
        if department is None:
            return {"errcode": 60123, "errmsg": "invalid party id"}
        return {"errcode": 0, "errmsg": "ok", "department": department}

    def _list_id(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """(member, department) pairs in pages of ``limit`` (1..10,000); the cursor is an offset."""
        limit = int(body.get("limit", 10_000))
        if not 1 <= limit <= 10_000:
            return {"errcode": 40058, "errmsg": "invalid limit"}
        pairs = [
            {"userid": u["userid"], "department": d}
            for u in sorted(self.users.values(), key=lambda u: u["userid"])
            for d in u["department"]
        ]
        start = int(body.get("cursor") or 0)
        end = start + limit
        return {
            "errcode": 0,
            "errmsg": "ok",
            "next_cursor": str(end) if end < len(pairs) else "",
            "dept_user": pairs[start:end],
        }

    def _simplelist(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        department = int(query.get("department_id", "0"))
        if department not in self.departments:
            return {"errcode": 60003, "errmsg": "department not found"}
        members = [  # WeCom leaves ``name`` out where the app may not see it (a name of None here)
            {"userid": u["userid"], "department": u["department"]}
            | ({"name": u["name"]} if u.get("name") is not None else {})
            for u in self.users.values()
            if department in u["department"]
        ]
        return {"errcode": 0, "errmsg": "ok", "userlist": members}

    def _user_get(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(query.get("userid", ""))
        if user is None:
            return {"errcode": 60111, "errmsg": "userid not found"}
        return {"errcode": 0, "errmsg": "ok", "status": 1, **user}

    def _getuserinfo(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        login = self.login_codes.get(query.get("code", ""))
        if login is None or login["used"] or login["issued"] + LOGIN_CODE_SECONDS < time.time():
            return {"errcode": 40029, "errmsg": "invalid code"}
        login["used"] = True
        if login.get("userid"):
            ticket = hashlib.sha256(f"ticket-{query['code']}".encode()).hexdigest()[:32]
            return {"errcode": 0, "errmsg": "ok", "userid": login["userid"], "user_ticket": ticket}
        external = "wm" + hashlib.sha256(login["openid"].encode()).hexdigest()[:30]
        return {"errcode": 0, "errmsg": "ok", "openid": login["openid"], "external_userid": external}

    def _convert_to_openid(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if body.get("userid") not in self.users:
            return {"errcode": 60111, "errmsg": "userid not found"}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "openid": "oWeCom-" + hashlib.sha256(body["userid"].encode()).hexdigest()[:20],
        }

    def _get(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        contact = self.contacts.get(query.get("external_userid", ""))
        if contact is None:
            return {"errcode": 40096, "errmsg": "invalid external userid"}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "external_contact": contact["external_contact"],
            "follow_user": contact["follow_user"],
        }

    def _get_corp_tag_list(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return {"errcode": 0, "errmsg": "ok", "tag_group": list(self.tag_groups.values())}

    def _add_corp_tag(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if body.get("group_id") and body["group_id"] not in self.tag_groups:
            # WeCom ignores group_name when group_id is given: a deleted group is an error
            return {"errcode": 40071, "errmsg": f"invalid group_id {body['group_id']}"}
        group = self.tag_groups.get(body.get("group_id", "")) or next(
            (g for g in self.tag_groups.values() if g["group_name"] == body.get("group_name")), None
        )
        if group is None:
            if not body.get("group_name"):
                return {"errcode": 40071, "errmsg": "group_name required"}
            group = {
                "group_id": self._id("et"),
                "group_name": body["group_name"],
                "create_time": int(time.time()),
                "order": 0,
                "tag": [],
            }
            self.tag_groups[group["group_id"]] = group
        for tag in body.get("tag", []):
            if any(existing["name"] == tag["name"] for existing in group["tag"]):
                return {"errcode": 40071, "errmsg": f"tag name {tag['name']} exists in the group"}
            group["tag"].append(
                {
                    "id": self._id("et"),
                    "name": tag["name"],
                    "create_time": int(time.time()),
                    "order": tag.get("order", 0),
                }
            )
        return {"errcode": 0, "errmsg": "ok", "tag_group": group}

    def _edit_corp_tag(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        target = body.get("id", "")
        if target in self.tag_groups:
            self.tag_groups[target]["group_name"] = body["name"]
            return {"errcode": 0, "errmsg": "ok"}
        for group in self.tag_groups.values():
            for tag in group["tag"]:
                if tag["id"] == target:
                    tag["name"] = body["name"]
                    return {"errcode": 0, "errmsg": "ok"}
        return {"errcode": 40068, "errmsg": "invalid tagid"}

    def _del_corp_tag(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        for group_id in body.get("group_id", []):
            self.tag_groups.pop(group_id, None)
        doomed = set(body.get("tag_id", []))
        for group in list(self.tag_groups.values()):
            group["tag"] = [tag for tag in group["tag"] if tag["id"] not in doomed]
            if not group["tag"]:
                self.tag_groups.pop(group["group_id"])  # WeCom deletes a group with its last tag
        return {"errcode": 0, "errmsg": "ok"}

    def _mark_tag(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        contact = self.contacts.get(body.get("external_userid", ""))
        if contact is None:
            return {"errcode": 40096, "errmsg": "invalid external userid"}
        follow = next((f for f in contact["follow_user"] if f["userid"] == body.get("userid")), None)
        if follow is None:
            return {"errcode": 84061, "errmsg": "not external contact"}
        tags = set(follow.get("tag_ids", [])) | set(body.get("add_tag", []))
        follow["tag_ids"] = sorted(tags - set(body.get("remove_tag", [])))
        return {"errcode": 0, "errmsg": "ok"}

    def _add_contact_way(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        unknown = [user for user in body.get("user", []) if user not in self.users]
        if body.get("type") not in (1, 2) or not body.get("user") or unknown:
            return {"errcode": 40098, "errmsg": f"invalid contact way users {unknown}"}
        config_id = self._id("cw")
        self.contact_ways[config_id] = {
            "config_id": config_id,
            **body,
            "qr_code": f"https://wework.qpic.cn/wwpic/{config_id}/0",
        }
        return {
            "errcode": 0,
            "errmsg": "ok",
            "config_id": config_id,
            "qr_code": self.contact_ways[config_id]["qr_code"],
        }

    def _send_welcome_msg(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        code = self.welcome_codes.get(body.get("welcome_code", ""))
        if code is None or code["used"] or code["issued"] + WELCOME_CODE_SECONDS < time.time():
            return {"errcode": 41051, "errmsg": "welcome_code expired or used"}
        code["used"] = True
        self.welcome_sent.append(
            {
                "welcome_code": body["welcome_code"],
                "text": body.get("text", {}).get("content"),
                "userid": code["userid"],
                "external_userid": code["external_userid"],
            }
        )
        return {"errcode": 0, "errmsg": "ok"}

    # --- what happens on WeCom's side ---------------------------------------------------------------

    def deliver(self, message: str, times: int = 1) -> list[int]:
        statuses = []
        for _ in range(times):
            encrypt = self.crypto.encrypt(message)
            stamp, nonce = str(int(time.time())), hashlib.md5(encrypt.encode()).hexdigest()[:10]  # noqa: S324
            query = urllib.parse.urlencode(
                {
                    "msg_signature": self.crypto.signature(stamp, nonce, encrypt),
                    "timestamp": stamp,
                    "nonce": nonce,
                }
            )
            body = (
                f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
                "<AgentID><![CDATA[1000002]]></AgentID></xml>"
            ).encode()
            request = urllib.request.Request(f"{self.callback_url}?{query}", data=body, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                    statuses.append(reply.status)
            except OSError as error:
                statuses.append(getattr(error, "code", 599))
        return statuses

    def _event(self, event: str, change_type: str, **fields: Any) -> str:
        inner = "".join(
            f"<{k}><![CDATA[{v}]]></{k}>" if isinstance(v, str) else f"<{k}>{v}</{k}>"
            for k, v in fields.items()
        )
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><ChangeType><![CDATA[{change_type}]]></ChangeType>{inner}</xml>"
        )

    def upsert_department(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            existed = int(request["id"]) in self.departments
            self.departments[int(request["id"])] = {
                "id": int(request["id"]),
                "name": request["name"],
                "parentid": int(request["parentid"]),
                "order": 1,
            }
        message = self._event(
            "change_contact",
            "update_party" if existed else "create_party",
            Id=int(request["id"]),
            Name=request["name"],
            ParentId=int(request["parentid"]),
        )
        return {"delivered": self.deliver(message, int(request.get("deliveries", 1)))}

    def delete_department(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.departments.pop(int(request["id"]), None) is None:
                raise ValueError(f"no department {request['id']}")
        message = self._event("change_contact", "delete_party", Id=int(request["id"]))
        return {"delivered": self.deliver(message, int(request.get("deliveries", 1)))}

    def upsert_user(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            existed = request["userid"] in self.users
            self.users[request["userid"]] = {
                "userid": request["userid"],
                "name": request["name"],
                "department": [int(d) for d in request["department"]],
                **({"status": int(request["status"])} if "status" in request else {}),
            }
        message = self._event(
            "change_contact",
            "update_user" if existed else "create_user",
            UserID=request["userid"],
            Department=",".join(str(d) for d in request["department"]),
        )
        return {"delivered": self.deliver(message, int(request.get("deliveries", 1)))}

    def delete_user(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.users.pop(request["userid"], None) is None:
                raise ValueError(f"no member {request['userid']}")
        message = self._event("change_contact", "delete_user", UserID=request["userid"])
        return {"delivered": self.deliver(message, int(request.get("deliveries", 1)))}

    def login_code(self, request: dict[str, Any]) -> dict[str, Any]:
        """The code of a web OAuth / QR login by a member (``userid``) or an outsider (``openid``)."""
        with self.lock:
            userid, openid = request.get("userid"), request.get("openid")
            if userid is not None and userid not in self.users:
                raise ValueError(f"no member {userid}: WeCom issues no code")
            if not userid and not openid:
                raise KeyError("userid or openid")
            code = self._id("LOGIN") + hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:16]
            self.login_codes[code] = {
                "userid": userid,
                "openid": openid,
                "issued": time.time(),
                "used": False,
            }
        return {"code": code}

    def scan(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            way = self.contact_ways.get(request.get("config_id", "")) or next(
                (w for w in self.contact_ways.values() if w.get("state") == request.get("state")), None
            )
            if way is None:
                raise ValueError("no such contact way")
            guide = request.get("userid") or way["user"][0]
            unionid = request["unionid"]
            external = (
                request.get("external_userid") or "wm" + hashlib.sha256(unionid.encode()).hexdigest()[:30]
            )
            contact = self.contacts.setdefault(
                external,
                {
                    "external_contact": {
                        "external_userid": external,
                        "name": request.get("name", "微信用户"),
                        "type": 1,
                        "unionid": unionid,
                        "gender": 0,
                    },
                    "follow_user": [],
                },
            )
            contact["follow_user"] = [f for f in contact["follow_user"] if f["userid"] != guide] + [
                {
                    "userid": guide,
                    "remark": "",
                    "createtime": int(time.time()),
                    "state": way.get("state", ""),
                    "tag_ids": [],
                }
            ]
            code = self._id("WELCOME")
            self.welcome_codes[code] = {
                "issued": time.time(),
                "used": False,
                "userid": guide,
                "external_userid": external,
            }
        message = self._event(
            "change_external_contact",
            "add_external_contact",
            UserID=guide,
            ExternalUserID=external,
            State=way.get("state", ""),
            WelcomeCode=code,
        )
        return {
            "userid": guide,
            "external_userid": external,
            "welcome_code": code,
            "delivered": self.deliver(message, int(request.get("deliveries", 1))),
        }

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "departments": list(self.departments.values()),
                "users": list(self.users.values()),
                "contacts": list(self.contacts.values()),
                "tag_groups": list(self.tag_groups.values()),
                "contact_ways": list(self.contact_ways.values()),
                "welcome_sent": list(self.welcome_sent),
                "calls": list(self.calls),
            }


class _Handler(JsonHandler):
    sandbox: WeComSandbox
    resets: list[Callable[[], None]]

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        control = {
            "/sandbox/wecom/departments": self.sandbox.upsert_department,
            "/sandbox/wecom/departments/delete": self.sandbox.delete_department,
            "/sandbox/wecom/users": self.sandbox.upsert_user,
            "/sandbox/wecom/users/delete": self.sandbox.delete_user,
            "/sandbox/oauth/code": self.sandbox.login_code,
            "/sandbox/wecom/scan": self.sandbox.scan,
        }
        if path in control and method == "POST":
            try:
                self._reply(200, control[path](body))
            except (KeyError, ValueError) as error:
                self._reply(400, {"error": str(error)})
        elif path == "/sandbox/wecom/faults" and method == "POST":
            self.sandbox.faults.extend(int(code) for code in body.get("faults", []))
            self._reply(200, {"faults": list(self.sandbox.faults)})
        elif path == "/sandbox/reset" and method == "POST":
            for reset in self.resets:
                reset()
            self._reply(200, {"reset": True})
        elif path == "/sandbox/wecom/state":
            self._reply(200, self.sandbox.state())
        elif path.startswith("/cgi-bin/"):
            self._reply(200, self.sandbox.api(method, path, query, body))
        else:
            self._reply(404, {"error": f"no route {path}"})


class WeComSandboxServer(SandboxServer):
    name = "WeCom (API and callbacks)"

    def __init__(self, sandbox: WeComSandbox, host: str, port: int) -> None:
        super().__init__(sandbox, _Handler, host, port)
