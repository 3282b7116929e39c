"""``python -m infra.local demo`` (``make demo``): the state the sample events need, on the running stack.

Everything goes through the stack's own APIs and the sandboxes, as a merchant and their people
would make it, except two things no API creates: an affiliate's settled commission (credited in
the ledger, as settlement would) and the sample payout (created as a guide reward's payout is).
Running it again changes nothing that is already there (409s are "already done").
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from infra.local import aws
from infra.local.config import LocalConfig
from infra.local.template import ROOT

SAMPLE_AFFILIATE = "aff-1024"
SAMPLE_APPLICANT = "oUnion-7b21d0"
SAMPLE_CUSTOMER = "oUnion-9f3a2c"
SAMPLE_GUIDE = "zhangwei"
SAMPLE_OUTLET = "21"
SAMPLE_STORE = "store-sh-jingan"
SAMPLE_EXTERNAL_USER = "wmEAlECwAAHrbWYDOK5u3Af13xlYDDNQ"
SAMPLE_WITHDRAWAL_REQUEST = "wd-20261124-01"
SAMPLE_PAYOUT_SOURCE = "reward:sample-1"
AFFILIATE_CREDIT_FEN = 20_000


class DemoError(RuntimeError):
    pass


class _Api:
    def __init__(self, config: LocalConfig) -> None:
        from incentives.core.access import Role, mint_token

        self.config = config
        now = datetime.now(UTC)

        def token(role: str, sub: str) -> str:
            return mint_token(
                config.api_jwt_secret, config.corp_id, sub, Role(role), now, ttl=timedelta(hours=12)
            )

        self.tokens = {
            "admin": token("admin", "dev-admin"),
            "guide": token("guide", SAMPLE_GUIDE),
            "affiliate": token("affiliate", SAMPLE_AFFILIATE),
            "applicant": token("affiliate", SAMPLE_APPLICANT),
        }

    def call(
        self, method: str, path: str, who: str = "admin", body: Any = None, accept: tuple[int, ...] = ()
    ) -> Any:
        answer = requests.request(
            method,
            f"{self.config.api_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            timeout=30,
        )
        if answer.status_code >= 300 and answer.status_code not in accept:
            raise DemoError(f"{method} {path}: {answer.status_code} {answer.text}")
        return (
            answer.json()
            if answer.content and answer.headers.get("Content-Type", "").startswith("application/json")
            else answer.text
        )

    def sandbox(self, url: str, path: str, body: dict[str, Any]) -> Any:
        answer = requests.post(f"{url}{path}", json=body, timeout=30)
        if answer.status_code >= 300:
            raise DemoError(f"POST {url}{path}: {answer.status_code} {answer.text}")
        return answer.json()


def _table(config: LocalConfig) -> Any:
    """The stack's table, written directly where no API writes what a sample needs."""
    from incentives.storage.dynamo_table import DynamoTable

    return DynamoTable(aws.client("dynamodb", config), f"{config.stack_name}-IncentivesTable")


def _credit_affiliate(config: LocalConfig) -> None:
    """A settled commission for the sample affiliate, as settlement leaves it (no API posts one)."""
    from incentives.ledger import postings
    from incentives.ledger.model import Account, OwnerKind
    from incentives.storage.ledger import LedgerRepository

    now = datetime.now(UTC)
    ledger = LedgerRepository(_table(config))
    account = Account(config.corp_id, OwnerKind.AFFILIATE, SAMPLE_AFFILIATE)
    source = "credit:demo-affiliate-1"
    if ledger.credit(postings.credit(account, source, AFFILIATE_CREDIT_FEN, now), hold_until=now):
        hold = ledger.hold(account, source)
        if hold is not None:
            ledger.settle(hold, postings.settlement(hold, now), now)


SAMPLE_PAYOUT_ID = "poce9bbbd0f6c4d5b0e14eabf5d79e4f"
"""The id of the payout of ``reward:sample-1`` (derived from the tenant and the source)."""


def seed_sample_payout(dynamodb: Any, sqs: Any, table_name: str, queue_url: str, corp_id: str) -> str:
    """The payout the payout-worker and payouts-console samples name (source ``reward:sample-1``):
    a guide's settled reward, paid by WeCom pay-to-employee through the payout queue."""
    from incentives.ledger import postings
    from incentives.ledger.model import Account, OwnerKind
    from incentives.payouts.creation import PayoutRequest, create_payout
    from incentives.payouts.model import Payee, ProviderName
    from incentives.storage.dynamo_table import DynamoTable
    from incentives.storage.ledger import LedgerRepository
    from incentives.storage.payout_queue import SqsPayoutQueue
    from incentives.storage.payouts import PayoutRepository

    now = datetime.now(UTC)
    table = DynamoTable(dynamodb, table_name)
    ledger, guide = LedgerRepository(table), Account(corp_id, OwnerKind.GUIDE, "guide-sample")
    if ledger.credit(postings.credit(guide, "credit:sample-1", 1_000, now), hold_until=now):
        hold = ledger.hold(guide, "credit:sample-1")
        if hold is not None:
            ledger.settle(hold, postings.settlement(hold, now), now)
    payout = create_payout(
        PayoutRepository(table),
        SqsPayoutQueue(sqs, queue_url),
        PayoutRequest(
            SAMPLE_PAYOUT_SOURCE, Payee(guide, "oSampleGuide"), 1_000, ProviderName.WECOM_PAY, "sample reward"
        ),
        now,
    )
    return str(getattr(payout, "payout_id", payout))


def _failed_sample_payout(api: _Api, config: LocalConfig) -> str:
    """The sample payout, failed for good (the merchant's funds ran out: NOTENOUGH), so that the
    console's re-queue sample has something to send again. Left as it is when it exists."""
    path = f"/admin/payouts/{SAMPLE_PAYOUT_ID}"
    existing = api.call("GET", path, accept=(404,))
    if isinstance(existing, dict) and existing.get("payout_id"):
        return f"{SAMPLE_PAYOUT_ID} ({existing.get('status')}, there already)"
    api.sandbox(config.payments_url, "/sandbox/faults", {"operation": "pay", "faults": ["NOTENOUGH"]})
    sqs = aws.client("sqs", config)
    queue_url = sqs.get_queue_url(QueueName=f"{config.stack_name}-PayoutQueue")["QueueUrl"]
    payout_id = seed_sample_payout(
        aws.client("dynamodb", config), sqs, f"{config.stack_name}-IncentivesTable", queue_url, config.corp_id
    )
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = str(api.call("GET", path, accept=(404,)).get("status", ""))
        if status == "failed":
            return f"{payout_id} (failed: NOTENOUGH)"
        time.sleep(0.5)
    raise DemoError(f"the sample payout did not fail as arranged (status {status!r}): is `make run` polling?")


def _claimed_sample_body(config: LocalConfig) -> str:
    """The chunks the claim-check sample (``events/event_processor/claim_check.json``) names: the
    ``order.paid`` sample's body, stored as the webhook stores a body too large for a message."""
    import hashlib

    from incentives.events.intake import keep_chunks, utf8_chunks
    from incentives.storage.event_chunks import TableBodyChunkStore

    sample = json.loads((ROOT / "events" / "order_webhook" / "order_paid.json").read_text(encoding="utf-8"))
    raw = sample["body"].encode()
    digest = hashlib.sha256(raw).hexdigest()
    event_id = json.loads(raw)["event_id"]
    store = TableBodyChunkStore(_table(config))
    keep_chunks(store, config.corp_id, event_id, digest, utf8_chunks(raw), datetime.now(UTC))
    return digest


def run_demo(config: LocalConfig) -> dict[str, Any]:
    if not aws.port_open(config.host, config.api_port) or not aws.port_open(config.host, config.aws_port):
        raise DemoError(f"no local stack on {config.api_url}: start it first (make run)")
    api = _Api(config)
    made: dict[str, Any] = {}

    requested = api.call("POST", "/admin/org/sync")["requested_at"]  # 202: the processor runs it
    deadline = time.monotonic() + 120
    while True:
        status = api.call("GET", "/admin/org/sync")
        if status.get("state") in ("finished", "failed") and status.get("finished_at", "") >= requested:
            break
        if time.monotonic() > deadline:
            raise DemoError(f"the organization sync did not finish: {status}")
        time.sleep(0.5)
    if status["state"] == "failed":
        raise DemoError(f"the organization sync failed: {status}")
    made["org"] = status.get("result")
    print(f"WeCom organization synced: {made['org']}")

    state = requests.get(f"{config.wecom_url}/sandbox/wecom/state", timeout=30).json()
    ways = [w for w in state.get("contact_ways", []) if w.get("state") == f"outlet-{SAMPLE_OUTLET}"]
    if ways:
        way = {"config_id": ways[0]["config_id"]}
    else:
        way = api.call(
            "POST", f"/admin/outlets/{SAMPLE_OUTLET}/contact-way", body={"welcome_message": "欢迎光临静安店"}
        )
    made["contact_way"] = way
    print(f"outlet {SAMPLE_OUTLET}: Contact-Me code {way.get('config_id')} (state outlet-{SAMPLE_OUTLET})")
    scan = api.sandbox(
        config.wecom_url,
        "/sandbox/wecom/scan",
        {
            "config_id": way["config_id"],
            "userid": SAMPLE_GUIDE,
            "external_userid": SAMPLE_EXTERNAL_USER,
            "unionid": SAMPLE_CUSTOMER,
            "name": "顾客甲",
        },
    )
    print(f"customer {SAMPLE_CUSTOMER} ({SAMPLE_EXTERNAL_USER}) added {SAMPLE_GUIDE} by scanning it: {scan}")

    api.call("PUT", "/admin/guide-incentives/settings", body={"payment_method": "offline"})
    api.call(
        "PUT",
        "/admin/guide-incentives/rules/new_customer",
        body={"amount_fen": 500, "monthly_limit_fen": 5000},
    )
    api.call("PATCH", "/admin/guide-incentives/rules/new_customer", body={"enabled": True})
    print("guide incentives: offline; rule new_customer pays 500 fen (at most 5000 a month), enabled")

    api.call(
        "PUT",
        "/admin/affiliates/settings",
        body={
            "promotion_enabled": True,
            "invitation_title": "邀你一起赚",
            "invitation_image_url": "https://img.example.com/invite.png",
            "commission_rate_bp": 1000,
            "invite_rate_bp": 500,
            "promotable_stores": "applied",
            "application": {
                "mode": "apply",
                "review": "manual",
                "match": "none",
                "form": {"default_fields": {"name": {"enabled": True}, "mobile": {"enabled": True}}},
            },
        },
    )
    api.call(
        "POST",
        "/affiliate/application",
        "affiliate",
        {"openid": f"o-{SAMPLE_AFFILIATE}-openid", "answers": {"name": "王微客", "mobile": "13900001024"}},
        accept=(409,),
    )
    api.call(
        "POST",
        f"/admin/affiliates/applications/{SAMPLE_AFFILIATE}/review",
        body={"approve": True, "reason": "demo"},
        accept=(409,),
    )
    api.call("POST", f"/affiliate/stores/{SAMPLE_STORE}/application", "affiliate", accept=(409,))
    print(
        f"affiliate program: manual review, stores on application; {SAMPLE_AFFILIATE} approved, "
        f"{SAMPLE_AFFILIATE} applied for {SAMPLE_STORE} (pending)"
    )
    levels = json.loads(
        (ROOT / "events" / "affiliate_admin_api" / "put_levels.json").read_text(encoding="utf-8")
    )
    api.call("PUT", "/admin/affiliates/levels", body=json.loads(levels["body"]))
    print("affiliate levels: the eight of events/affiliate_admin_api/put_levels.json")
    _credit_affiliate(config)
    withdrawal = api.call(
        "POST",
        "/affiliate/withdrawals",
        "affiliate",
        {"amount_fen": 5000, "request_id": SAMPLE_WITHDRAWAL_REQUEST},
    )
    made["withdrawal_id"] = withdrawal.get("withdrawal_id")
    print(
        f"{SAMPLE_AFFILIATE}: {AFFILIATE_CREDIT_FEN} fen settled commission; "
        f"withdrawal {made['withdrawal_id']} (5000 fen, {withdrawal.get('status')})"
    )

    made["payout"] = _failed_sample_payout(api, config)
    print(
        f"payout of {SAMPLE_PAYOUT_SOURCE}: {made['payout']}; "
        "events/admin_api/requeue_payout.json re-queues it"
    )

    made["claimed_body"] = _claimed_sample_body(config)
    print(
        f"order.paid sample's body kept in chunks ({made['claimed_body'][:12]}…) for the claim-check sample"
    )

    print("\ntokens (12 h):")
    for name, token in api.tokens.items():
        print(f"  {name:10} {token}")
    made["tokens"] = api.tokens
    return made


def main(config: LocalConfig) -> int:
    try:
        run_demo(config)
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    return 0
