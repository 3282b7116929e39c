"""A local stand-in for the WeChat Store (微信小店) API, and a sender of its encrypted message pushes.

API (JSON, ``access_token`` on every call but ``cgi-bin/token``): ``cgi-bin/token``,
``channels/ec/order/get``, ``aftersale/getaftersaleorder``, ``product/get``, ``category/detail``,
``funds/getfundsflowlist`` (paged, ``next_key``), ``funds/getfundsflowdetail``. Errors carry the
store's errcodes (40001 / 40013 credentials, 40014 / 42001 tokens, 45009 frequency, 100002
unknown order). Faults queue per call: ``POST /sandbox/wechat-store/faults {"faults": [45009]}``
(a ``0`` lets its call through).

Control (what happens on the store's side), each push delivered ``deliveries`` times (default 1),
freshly encrypted, to the product's ``/wechat-store/callback/<corp_id>``:

- ``POST /sandbox/wechat-store/orders`` ``{"order_id"?, "scenes": [...], "provisional"?, "unionid"?,
  "pay_time"?, "products": [{"product_id", "sku_id", "price_fen", "count"?, "category"?: [..]}]}``:
  an order is paid (``channels_ec_order_pay``). ``scenes`` (any of ``promoter``, ``wecom_share``,
  ``official_account``, ``mini_program``, ``live``, ``short_video``) set the fields ``order/get``
  carries for that scene; ``provisional`` leaves the share data 解析中 (``handling_progress`` 0);
- ``POST /sandbox/wechat-store/orders/<id>/parse`` ``{"scenes"?}``: the platform finishes parsing
  (``handling_progress`` 1, the scenes' fields appear) and pushes ``channels_ec_order_ext_info_update``;
- ``POST /sandbox/wechat-store/orders/<id>/refund`` ``{"sku_id", "amount_fen"}``: an after-sale is
  refunded (``channels_ec_aftersale_update``);
- ``POST /sandbox/wechat-store/orders/<id>/confirm``: goods received, status 100
  (``channels_ec_order_confirm``);
- ``POST /sandbox/wechat-store/orders/<id>/settle`` ``{"fee_fen", "settle_time"?}``: the order settles:
  ``settle_info`` and a technical-service-fee funds flow (funds_type 2, expense) booked at
  ``settle_time`` (``channels_ec_order_settle``);
- ``POST /sandbox/wechat-store/flows`` ``{"record": {...}}``: a funds flow exactly as given (drift:
  missing ``related_type`` / ``bookkeeping_time``, unknown enums); ``bookkeeping_unix`` files it;
- ``GET /sandbox/wechat-store/state``; ``POST /sandbox/reset``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from incentives.wecom.crypto import CallbackCrypto
from infra.local.sandboxes.server import JsonHandler, SandboxServer

SCENE_FIELDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "promoter": lambda n: {
        "source_infos": [{"sale_channel": 100, "account_type": 5, "account_id": f"talent-{n}"}],
        "commission_infos": [{"type": 0, "status": 1, "amount": 100, "talent_id": f"talent-{n}"}],
    },
    "wecom_share": lambda n: {
        "sku_sharer_infos": [
            {"sharer_openid": f"o-sharer-{n}", "sharer_type": 1, "share_scene": 5, "from_wecom": True}
        ]
    },
    "official_account": lambda n: {
        "source_infos": [
            {"sale_channel": 0, "account_type": 2, "account_id": "gh_local_oa", "original_id": "gh_local_oa"}
        ]
    },
    "mini_program": lambda n: {
        "source_infos": [{"sale_channel": 0, "account_type": 3, "account_id": "wx0123456789abcdef"}]
    },
    "live": lambda n: {"ext_info": {"order_scene": 2, "finder_id": "sph-local-live", "live_id": f"live-{n}"}},
    "short_video": lambda n: {"ext_info": {"order_scene": 3, "finder_id": "sph-local-video"}},
}


def _merge(detail: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, list):
            detail.setdefault(key, []).extend(value)
        elif isinstance(value, dict):
            detail.setdefault(key, {}).update(value)
        else:
            detail[key] = value


@dataclass
class WeChatStoreSandbox:
    appid: str
    secret: str
    crypto: CallbackCrypto
    callback_url: str
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    after_sales: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, list[str]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_scenes: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    faults: deque[int] = field(default_factory=deque)
    calls: list[str] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        """No orders, after-sales, products, flows, faults, calls or pushes; tokens stay valid."""
        with self.lock:
            for book in (
                self.orders,
                self.after_sales,
                self.products,
                self.categories,
                self.flows,
                self.pending_scenes,
            ):
                book.clear()
            self.faults.clear()
            self.calls.clear()
            self.pushes.clear()

    def _id(self) -> int:
        return next(self._ids)

    # --- API -----------------------------------------------------------------------------------

    def api(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls.append(path)
            if path == "/cgi-bin/token":
                if query.get("appid") != self.appid:
                    return {"errcode": 40013, "errmsg": "invalid appid"}
                if query.get("secret") != self.secret:
                    return {
                        "errcode": 40001,
                        "errmsg": "invalid credential, access_token is invalid or not latest",
                    }
                token = hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:32]
                self.tokens[token] = time.time() + 7200
                return {"access_token": token, "expires_in": 7200}
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
            handlers = {
                "/channels/ec/order/get": self._order_get,
                "/channels/ec/aftersale/getaftersaleorder": self._after_sale_get,
                "/channels/ec/product/get": self._product_get,
                "/channels/ec/category/detail": self._category_detail,
                "/channels/ec/funds/getfundsflowlist": self._flow_list,
                "/channels/ec/funds/getfundsflowdetail": self._flow_detail,
            }
            handler = handlers.get(path)
            if handler is None:
                return {"errcode": 48001, "errmsg": "api unauthorized"}
            return handler(body)

    def _order_get(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(body.get("order_id", "")))
        if order is None:
            return {"errcode": 100002, "errmsg": "order not exist"}
        return {"errcode": 0, "errmsg": "ok", "order": json.loads(json.dumps(order))}

    def _after_sale_get(self, body: dict[str, Any]) -> dict[str, Any]:
        after_sale = self.after_sales.get(str(body.get("after_sale_order_id", "")))
        if after_sale is None:
            return {"errcode": 100002, "errmsg": "aftersale order not exist"}
        return {"errcode": 0, "errmsg": "ok", "after_sale_order": after_sale}

    def _product_get(self, body: dict[str, Any]) -> dict[str, Any]:
        cats = self.products.get(str(body.get("product_id", "")))
        if cats is None:
            return {"errcode": 10020016, "errmsg": "product not exist"}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "product": {"product_id": body["product_id"], "cats_v2": [{"cat_id": c} for c in cats]},
        }

    def _category_detail(self, body: dict[str, Any]) -> dict[str, Any]:
        cat_id = str(body.get("cat_id", ""))
        if cat_id not in self.categories:
            return {"errcode": 40097, "errmsg": "invalid cat_id"}
        return {"errcode": 0, "errmsg": "ok", "info": {"cat_id": cat_id, "name": self.categories[cat_id]}}

    def _flow_list(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = int(body.get("start_time", 0)), int(body.get("end_time", 2**40))
        size = max(1, min(100, int(body.get("page_size", 10))))
        ids = sorted(f for f, flow in self.flows.items() if start <= flow["_booked_unix"] < end)
        offset = (
            int(body["next_key"])
            if str(body.get("next_key", "")).isdigit()
            else (int(body.get("page", 1)) - 1) * size
        )
        page = ids[offset : offset + size]
        more = offset + size < len(ids)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "flow_ids": page,
            "has_more": more,
            "next_key": str(offset + size) if more else "",
        }

    def _flow_detail(self, body: dict[str, Any]) -> dict[str, Any]:
        flow = self.flows.get(str(body.get("flow_id", "")))
        if flow is None:
            return {"errcode": 40097, "errmsg": "invalid flow_id"}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "funds_flow": {k: v for k, v in flow.items() if not k.startswith("_")},
        }

    # --- pushes ----------------------------------------------------------------------------------

    def deliver(self, message: dict[str, Any], times: int = 1) -> list[int]:
        """Send a push as the store does in safe mode: JSON envelope, ``msg_signature`` in the query."""
        plain = json.dumps(message, ensure_ascii=False)
        statuses = []
        for _ in range(times):
            encrypt = self.crypto.encrypt(plain)
            stamp, nonce = str(int(time.time())), hashlib.md5(encrypt.encode()).hexdigest()[:10]  # noqa: S324
            query = urllib.parse.urlencode(
                {
                    "timestamp": stamp,
                    "nonce": nonce,
                    "encrypt_type": "aes",
                    "msg_signature": self.crypto.signature(stamp, nonce, encrypt),
                }
            )
            body = json.dumps({"ToUserName": "gh_local_store", "Encrypt": encrypt}).encode()
            request = urllib.request.Request(  # noqa: S310
                f"{self.callback_url}?{query}",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                    statuses.append(reply.status)
            except OSError as error:
                statuses.append(getattr(error, "code", 599))
        with self.lock:
            self.pushes.append({"event": message["Event"], "statuses": statuses})
        return statuses

    def _push(self, event: str, order_id: str, times: int, **extra: Any) -> list[int]:
        message = {
            "ToUserName": "gh_local_store",
            "FromUserName": "o-buyer",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": event,
            **(extra or {"order_info": {"order_id": int(order_id)}}),
        }
        return self.deliver(message, times)

    # --- control -------------------------------------------------------------------------------

    def _order(self, order_id: str) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None:
            raise ValueError(f"no order {order_id}")
        return order

    def _apply_scenes(self, order: dict[str, Any], scenes: list[str]) -> None:
        unknown = [scene for scene in scenes if scene not in SCENE_FIELDS]
        if unknown:
            raise ValueError(f"unknown scenes {unknown} (known: {sorted(SCENE_FIELDS)})")
        detail = order["order_detail"]
        for scene in scenes:
            extra = SCENE_FIELDS[scene](order["order_id"][-4:])
            if "sku_sharer_infos" in extra:
                for entry in extra["sku_sharer_infos"]:
                    entry["sku_id"] = detail["product_infos"][0]["sku_id"]
            if "source_infos" in extra:
                for entry in extra["source_infos"]:
                    entry["sku_id"] = detail["product_infos"][0]["sku_id"]
            _merge(detail, extra)

    def create_order(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            order_id = str(request.get("order_id") or (3705115058471208000 + self._id()))
            if not order_id.isdigit():
                raise ValueError("order_id must be digits, as the store's are")
            pay_time = int(request.get("pay_time") or time.time())
            products = []
            for n, product in enumerate(request["products"], start=1):
                count = int(product.get("count", 1))
                price = int(product["price_fen"])
                products.append(
                    {
                        "product_id": str(product["product_id"]),
                        "sku_id": str(product.get("sku_id") or f"{product['product_id']}-{n}"),
                        "sku_cnt": count,
                        "sale_price": price,
                        "real_price": price * count,
                        "title": product.get("title", str(product["product_id"])),
                    }
                )
                path = [str(name) for name in product.get("category") or ["服饰", "女装"]]
                cat_ids = []
                for name in path:
                    cat_id = str(1000 + int(hashlib.sha256(name.encode()).hexdigest()[:6], 16) % 9000)
                    self.categories[cat_id] = name
                    cat_ids.append(cat_id)
                self.products[str(product["product_id"])] = cat_ids
            provisional = bool(request.get("provisional"))
            scenes = [str(scene) for scene in request.get("scenes", [])]
            order: dict[str, Any] = {
                "order_id": order_id,
                "status": 20,
                "openid": f"o-buyer-{order_id[-6:]}",
                "unionid": request.get("unionid") or f"oUnion-{order_id[-6:]}",
                "create_time": pay_time - 30,
                "update_time": pay_time,
                "order_detail": {
                    "product_infos": products,
                    "price_info": {"order_price": sum(p["real_price"] for p in products), "freight": 0},
                    "pay_info": {"pay_time": pay_time, "transaction_id": f"42000{order_id[-10:]}"},
                    "ext_info": {"commission_handling_progress": 1},
                    "settle_info": {"predict_commission_fee": 0},
                },
            }
            if provisional:
                order["order_detail"]["sharer_info"] = {"handling_progress": 0}
                self.pending_scenes[order_id] = scenes
            else:
                self._apply_scenes(order, scenes)
            self.orders[order_id] = order
        statuses = self._push("channels_ec_order_pay", order_id, int(request.get("deliveries", 1)))
        return {"order_id": order_id, "delivered": statuses}

    def finish_parsing(self, order_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            order = self._order(order_id)
            scenes = [str(s) for s in request.get("scenes", self.pending_scenes.pop(order_id, []))]
            order["order_detail"]["sharer_info"] = {"handling_progress": 1, "share_scene": 5}
            self._apply_scenes(order, scenes)
            order["update_time"] = int(request.get("update_time") or order["update_time"] + 60)
        return {
            "delivered": self._push(
                "channels_ec_order_ext_info_update", order_id, int(request.get("deliveries", 1))
            )
        }

    def refund(self, order_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            order = self._order(order_id)
            sku_id = str(request.get("sku_id") or order["order_detail"]["product_infos"][0]["sku_id"])
            after_sale_id = str(request.get("after_sale_order_id") or (9000000000 + self._id()))
            update_time = int(request.get("update_time") or order["update_time"] + 120)
            self.after_sales[after_sale_id] = {
                "after_sale_order_id": after_sale_id,
                "order_id": order_id,
                "status": "MERCHANT_REFUND_SUCCESS",
                "update_time": update_time,
                "product_info": {"product_id": "", "sku_id": sku_id, "count": 1},
                "refund_info": {"amount": int(request["amount_fen"])},
            }
            order["update_time"] = update_time
        update = {
            "order_id": int(order_id),
            "after_sale_order_id": after_sale_id,
            "status": "MERCHANT_REFUND_SUCCESS",
        }
        statuses = self._push(
            "channels_ec_aftersale_update",
            order_id,
            int(request.get("deliveries", 1)),
            finder_shop_aftersale_status_update=update,
        )
        return {"after_sale_order_id": after_sale_id, "delivered": statuses}

    def confirm(self, order_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            order = self._order(order_id)
            received = int(request.get("confirm_time") or order["update_time"] + 600)
            order["status"] = 100
            order["update_time"] = received
            order["order_detail"]["ext_info"]["confirm_receipt_time"] = received
        return {
            "delivered": self._push("channels_ec_order_confirm", order_id, int(request.get("deliveries", 1)))
        }

    def settle(self, order_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            order = self._order(order_id)
            fee = int(request["fee_fen"])
            settle_time = int(request.get("settle_time") or time.time())
            order["order_detail"]["settle_info"] = {
                "predict_commission_fee": int(request.get("predict_fee_fen", fee)),
                "commission_fee": fee,
                "settle_time": settle_time,
            }
            flow_id = f"flow-{order_id}-fee"
            booked = datetime.fromtimestamp(settle_time, UTC).astimezone()
            self.flows[flow_id] = {
                "flow_id": flow_id,
                "funds_type": 2,
                "flow_type": 2,
                "amount": fee,
                "related_info_list": [{"related_type": 1, "order_id": order_id}],
                "bookkeeping_time": str(settle_time),
                "remark": "技术服务费",
                "_booked_unix": settle_time,
                "_booked": booked.isoformat(),
            }
        return {
            "flow_id": flow_id,
            "delivered": self._push("channels_ec_order_settle", order_id, int(request.get("deliveries", 1))),
        }

    def add_flow(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            record = dict(request["record"])
            flow_id = str(record.get("flow_id") or f"flow-drift-{self._id()}")
            self.flows[flow_id] = {**record, "_booked_unix": int(request["bookkeeping_unix"])}
        return {"flow_id": flow_id}

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "orders": list(self.orders.values()),
                "after_sales": list(self.after_sales.values()),
                "flows": [{k: v for k, v in f.items() if k != "_booked"} for f in self.flows.values()],
                "pushes": list(self.pushes),
                "calls": list(self.calls),
            }


class _Handler(JsonHandler):
    sandbox: WeChatStoreSandbox
    resets: list[Callable[[], None]]

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        store = self.sandbox
        parts = path.strip("/").split("/")
        try:
            if path == "/sandbox/wechat-store/orders" and method == "POST":
                self._reply(200, store.create_order(body))
            elif parts[:3] == ["sandbox", "wechat-store", "orders"] and len(parts) == 5 and method == "POST":
                actions = {
                    "parse": store.finish_parsing,
                    "refund": store.refund,
                    "confirm": store.confirm,
                    "settle": store.settle,
                }
                if parts[4] not in actions:
                    self._reply(404, {"error": f"no action {parts[4]}"})
                    return
                self._reply(200, actions[parts[4]](parts[3], body))
            elif path == "/sandbox/wechat-store/flows" and method == "POST":
                self._reply(200, store.add_flow(body))
            elif path == "/sandbox/wechat-store/faults" and method == "POST":
                store.faults.extend(int(code) for code in body.get("faults", []))
                self._reply(200, {"faults": list(store.faults)})
            elif path == "/sandbox/reset" and method == "POST":
                for reset in self.resets:
                    reset()
                self._reply(200, {"reset": True})
            elif path == "/sandbox/wechat-store/state":
                self._reply(200, store.state())
            elif path.startswith(("/cgi-bin/", "/channels/ec/")):
                self._reply(200, store.api(method, path, query, body))
            else:
                self._reply(404, {"error": f"no route {path}"})
        except (KeyError, ValueError, TypeError) as error:
            self._reply(400, {"error": f"{type(error).__name__}: {error}"})


class WeChatStoreSandboxServer(SandboxServer):
    name = "WeChat Store (API and message pushes)"

    def __init__(self, sandbox: WeChatStoreSandbox, host: str, port: int) -> None:
        super().__init__(sandbox, _Handler, host, port)
