"""Sign-in rules (SPEC §3.3): who gets which role, token pairs, single-use refresh, revocation.

The domain runs on the in-memory table with WeCom's and the mini program's sandboxes behind
the real clients (an in-process transport), on a fixed clock.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlparse

import jwt
import pytest

from incentives.core.access import Principal, Role, authenticate, mint_token
from incentives.core.clock import FixedClock, iso_utc
from incentives.core.errors import (
    Forbidden,
    InvalidInput,
    TooManyRequests,
    Unauthenticated,
    UpstreamError,
)
from incentives.org.service import sync_organization
from incentives.signin import service
from incentives.signin.miniprogram import MiniProgramClient
from incentives.signin.service import load_staff, save_staff
from incentives.signin.sessions import (
    REFRESH_TOKEN_TTL,
    SESSION_LIFETIME,
    Refusal,
    new_refresh_token,
    read_refresh_token,
    refusal,
)
from incentives.signin.staff import OperatorGrant, SignInStaff, member_identity
from incentives.storage.memory_table import MemoryTable
from incentives.storage.org import TableOrgRepository
from incentives.storage.signin import TableSessions, TableStaffList, refresh_token_key
from incentives.wecom.client import MemoryTokenCache, WeComClient
from incentives.wecom.crypto import CallbackCrypto
from incentives.wecom.token_client import JsonTransport
from infra.local.sandboxes.miniprogram import MiniProgramSandbox
from infra.local.sandboxes.wecom import WeComSandbox

CORP = "ww-1"
JWT_SECRET = "a-32-byte-or-longer-secret-for-ww-1!"
NOW = datetime.now(UTC).replace(microsecond=0)
"""Access tokens are checked against the wall clock, so the fixed clock starts now: at each test,
not at import (a long suite would otherwise outlive the tokens)."""


@pytest.fixture(autouse=True)
def _clock_starts_now() -> None:
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    table: MemoryTable
    wecom: WeComSandbox
    miniprogram: MiniProgramSandbox
    clock: FixedClock
    ports: service.SignInPorts
    unreachable: list[str]

    def wecom_code(self, **who: str) -> str:
        return str(self.wecom.login_code(who)["code"])

    def js_code(self, openid: str, unionid: str | None = None) -> str:
        return str(self.miniprogram.issue_code({"openid": openid, "unionid": unionid})["code"])

    def staff(self, admins: list[str] = [], operators: dict[str, list[str]] | None = None) -> None:  # noqa: B006
        grants = [OperatorGrant(user_id=u, dept_ids=d) for u, d in (operators or {}).items()]
        save_staff(self.ports.staff, CORP, SignInStaff(admins=admins, operators=grants), self.clock.now())

    def sign_in(self, role: Role | None = None, **who: str) -> service.Tokens:
        return service.sign_in_with_wecom(self.ports, CORP, self.wecom_code(**who), role, self.clock.now())

    def refresh(self, token: str) -> service.Tokens:
        return service.refresh(self.ports, token, self.clock.now())


def _transport(
    answer: Callable[[str, str, dict[str, str], bytes | None], object], down: list[str]
) -> JsonTransport:
    """Calls go straight to a sandbox object; paths in ``down`` time out."""

    def send(method: str, url: str, body: bytes | None, timeout: float) -> bytes:
        parsed = urlparse(url)
        if parsed.path in down:
            raise TimeoutError("timed out")
        return json.dumps(answer(method, parsed.path, dict(parse_qsl(parsed.query)), body)).encode()

    return send


@pytest.fixture
def world() -> World:
    table, clock, down = MemoryTable(), FixedClock(NOW), []
    wecom = WeComSandbox(CORP, "app-secret", CallbackCrypto("t", "a" * 43, CORP), "http://127.0.0.1:9/cb")
    miniprogram = MiniProgramSandbox("wx-app", "mp-secret")
    wecom_client = WeComClient(
        CORP,
        "app-secret",
        MemoryTokenCache(),
        clock,
        transport=_transport(
            lambda m, path, q, body: wecom.api(m, path, q, json.loads(body) if body else {}), down
        ),
        sleep=lambda _: None,
    )
    mp_client = MiniProgramClient(
        "wx-app",
        "mp-secret",
        transport=_transport(lambda m, path, q, body: miniprogram.jscode2session(q), down),
    )
    numbers = itertools.count()
    ports = service.SignInPorts(
        sessions=TableSessions(table),
        staff=TableStaffList(table),
        wecom_client=lambda corp: wecom_client,
        miniprogram_client=lambda corp: mp_client,
        api_secret={CORP: JWT_SECRET}.get,
        new_secret=lambda: f"{next(numbers):043d}",
    )
    sync_organization(
        TableOrgRepository(table), wecom_client, NOW
    )  # guides: zhangwei, lifang (21), wangqiang (22), chenjing (31)
    return World(table, wecom, miniprogram, clock, ports, down)


def _principal(token: str) -> Principal:
    return authenticate(f"Bearer {token}", {CORP: JWT_SECRET}.get)


def _claims(token: str) -> dict[str, object]:
    """A token issued on the advanced clock: its signature checked, its times not."""
    return dict(
        jwt.decode(
            token, JWT_SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
        )
    )


# --- who signs in as what ---------------------------------------------------------------------------


def test_a_member_of_an_outlet_signs_in_as_guide(world: World) -> None:
    tokens = world.sign_in(userid="zhangwei")
    assert _principal(tokens.access_token) == Principal(CORP, "zhangwei", Role.GUIDE)
    assert tokens.access_expires_in == 15 * 60 and tokens.refresh_expires_in == 14 * 24 * 3600


def test_a_listed_operator_signs_in_with_their_departments(world: World) -> None:
    world.staff(operators={"ops-li": ["2"]})
    tokens = world.sign_in(userid="ops-li")
    assert _principal(tokens.access_token) == Principal(CORP, "ops-li", Role.OPERATOR, ("2",))


def test_a_member_neither_guide_nor_staff_is_refused(world: World) -> None:
    with pytest.raises(Forbidden, match="neither a guide"):
        world.sign_in(userid="ops-li")  # in department 2, which is no outlet, and listed nowhere


def test_someone_outside_the_enterprise_is_refused(world: World) -> None:
    with pytest.raises(Forbidden, match="outside the enterprise"):
        world.sign_in(openid="oOutsider123")


def test_a_member_holding_several_roles_gets_the_highest_unless_they_ask(world: World) -> None:
    world.staff(admins=["zhangwei"])
    assert world.sign_in(userid="zhangwei").identity.role is Role.ADMIN
    assert world.sign_in(Role.GUIDE, userid="zhangwei").identity.role is Role.GUIDE
    with pytest.raises(Forbidden):
        world.sign_in(Role.OPERATOR, userid="zhangwei")


def test_role_order_admin_operator_guide() -> None:
    staff = SignInStaff(admins=["a"], operators=[OperatorGrant(user_id="a2", dept_ids=["2"])])
    assert member_identity("a", staff, True, None).role is Role.ADMIN
    assert member_identity("a2", staff, True, None).role is Role.OPERATOR
    assert member_identity("g", staff, True, None).role is Role.GUIDE
    with pytest.raises(Forbidden):
        member_identity("g", staff, False, None)


def test_an_unknown_or_used_wecom_code_is_a_400_naming_code(world: World) -> None:
    code = world.wecom_code(userid="zhangwei")
    service.sign_in_with_wecom(world.ports, CORP, code, None, NOW)
    for bad in (code, "never-issued"):
        with pytest.raises(InvalidInput) as refused:
            service.sign_in_with_wecom(world.ports, CORP, bad, None, NOW)
        assert refused.value.field == "code"


def test_wecom_unreachable_or_limiting_is_502_or_429_and_nothing_is_stored(world: World) -> None:
    before = dict(world.table.items)
    world.unreachable.append("/cgi-bin/auth/getuserinfo")
    with pytest.raises(UpstreamError):
        world.sign_in(userid="zhangwei")
    world.unreachable.clear()
    world.wecom.faults.extend([45009] * 4)  # the client backs off three times, then gives up
    with pytest.raises(TooManyRequests):
        world.sign_in(userid="zhangwei")
    assert {k: v for k, v in world.table.items.items() if "WECOM_TOKEN" not in k[0]} == {
        k: v for k, v in before.items() if "WECOM_TOKEN" not in k[0]
    }


def test_an_unknown_tenant_is_refused_before_wecom_is_asked(world: World) -> None:
    with pytest.raises(Unauthenticated) as refused:
        service.sign_in_with_wecom(world.ports, "ww-other", "any", None, NOW)
    assert refused.value.field == "X-Corp-Id"
    assert "/cgi-bin/auth/getuserinfo" not in world.wecom.calls


# --- mini program ---------------------------------------------------------------------------------


def test_a_customer_signs_in_with_the_mini_program_as_affiliate_keyed_by_unionid(world: World) -> None:
    tokens = service.sign_in_with_miniprogram(world.ports, CORP, world.js_code("oOpen1", "oUnion1"), NOW)
    assert _principal(tokens.access_token) == Principal(CORP, "oUnion1", Role.AFFILIATE, openid="oOpen1")
    claims = jwt.decode(tokens.access_token, JWT_SECRET, algorithms=["HS256"])
    assert claims["openid"] == "oOpen1" and claims["typ"] == "access"


def test_a_mini_program_user_without_unionid_is_refused(world: World) -> None:
    with pytest.raises(Forbidden, match="unionid"):
        service.sign_in_with_miniprogram(world.ports, CORP, world.js_code("oOpen1"), NOW)


@pytest.mark.parametrize(
    ("errcode", "error"),
    [
        (40029, InvalidInput),
        (40163, InvalidInput),
        (45011, TooManyRequests),
        (40226, Forbidden),
        (-1, UpstreamError),
        (40125, UpstreamError),
    ],
)
def test_wechat_errors_become_clear_answers(world: World, errcode: int, error: type[Exception]) -> None:
    world.miniprogram.faults.append(errcode)
    with pytest.raises(error):
        service.sign_in_with_miniprogram(world.ports, CORP, world.js_code("oOpen1", "oUnion1"), NOW)
    assert not any(pk.startswith(f"T#{CORP}#SESSION#") for pk, _ in world.table.items)


def test_a_js_code_works_once(world: World) -> None:
    code = world.js_code("oOpen1", "oUnion1")
    service.sign_in_with_miniprogram(world.ports, CORP, code, NOW)
    with pytest.raises(InvalidInput) as refused:
        service.sign_in_with_miniprogram(world.ports, CORP, code, NOW)
    assert refused.value.field == "code"


def test_wechat_unreachable_is_502(world: World) -> None:
    world.unreachable.append("/sns/jscode2session")
    with pytest.raises(UpstreamError):
        service.sign_in_with_miniprogram(world.ports, CORP, world.js_code("oOpen1", "oUnion1"), NOW)


# --- refresh ----------------------------------------------------------------------------------------


def test_refresh_answers_a_new_pair_and_uses_the_token_up(world: World) -> None:
    first = world.sign_in(userid="zhangwei")
    world.clock.advance(timedelta(minutes=14))
    second = world.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert _claims(second.access_token)["sub"] == "zhangwei"
    assert world.refresh(second.refresh_token).identity.role is Role.GUIDE


def test_a_replayed_refresh_token_ends_the_session(world: World) -> None:
    first = world.sign_in(userid="zhangwei")
    second = world.refresh(first.refresh_token)
    with pytest.raises(Unauthenticated, match="used already"):
        world.refresh(first.refresh_token)
    with pytest.raises(Unauthenticated, match="ended"):
        world.refresh(second.refresh_token)  # the legitimate copy dies with the session


def test_an_access_token_is_no_refresh_token_and_a_refresh_token_no_access_token(world: World) -> None:
    tokens = world.sign_in(userid="zhangwei")
    with pytest.raises(Unauthenticated) as refused:
        world.refresh(tokens.access_token)
    assert refused.value.field == "refresh_token"
    with pytest.raises(Unauthenticated):
        _principal(tokens.refresh_token)


def test_a_jwt_of_another_type_is_no_access_token() -> None:
    other = jwt.encode(
        {"corp_id": CORP, "sub": "u", "role": "admin", "typ": "refresh", "exp": 4102444800}, JWT_SECRET
    )
    with pytest.raises(Unauthenticated, match="not an access token"):
        _principal(other)
    assert _principal(mint_token(JWT_SECRET, CORP, "u", Role.ADMIN, datetime.now(UTC))).role is Role.ADMIN


def test_only_the_hash_of_a_refresh_token_is_stored(world: World) -> None:
    tokens = world.sign_in(userid="zhangwei")
    stored = json.dumps(list(world.table.items.values()), default=str)
    assert tokens.refresh_token not in stored and tokens.refresh_token.split(".")[1] not in stored
    assert world.table.get(refresh_token_key(CORP, read_refresh_token(tokens.refresh_token)[1]))


def test_a_refresh_token_expires(world: World) -> None:
    tokens = world.sign_in(userid="zhangwei")
    world.clock.advance(REFRESH_TOKEN_TTL)
    with pytest.raises(Unauthenticated, match="expired"):
        world.refresh(tokens.refresh_token)


def test_a_session_ends_at_its_lifetime_however_often_refreshed(world: World) -> None:
    tokens = world.sign_in(userid="zhangwei")
    while world.clock.now() + timedelta(days=13) < NOW + SESSION_LIFETIME:
        world.clock.advance(timedelta(days=13))
        tokens = world.refresh(tokens.refresh_token)
    world.clock.instant = NOW + SESSION_LIFETIME
    with pytest.raises(Unauthenticated, match="lifetime"):
        world.refresh(tokens.refresh_token)


def test_a_guide_who_left_the_synced_organization_cannot_refresh_and_nothing_changes(world: World) -> None:
    tokens = world.sign_in(userid="zhangwei")
    world.wecom.users.pop("zhangwei")
    world.clock.advance(timedelta(minutes=20))
    sync_organization(TableOrgRepository(world.table), world.ports.wecom_client(CORP), world.clock.now())
    before = dict(world.table.items)
    with pytest.raises(Forbidden, match="no longer"):
        world.refresh(tokens.refresh_token)
    assert world.table.items == before


def test_an_operator_struck_off_the_list_cannot_refresh(world: World) -> None:
    world.staff(operators={"ops-li": ["2"]})
    tokens = world.sign_in(userid="ops-li")
    world.staff()
    with pytest.raises(Forbidden):
        world.refresh(tokens.refresh_token)


def test_an_operator_who_left_wecom_cannot_refresh(world: World) -> None:
    world.staff(operators={"ops-li": ["2"]})
    tokens = world.sign_in(userid="ops-li")
    world.wecom.users.pop("ops-li")  # staff may belong to no outlet: WeCom itself is asked
    with pytest.raises(Forbidden, match="left"):
        world.refresh(tokens.refresh_token)


def test_a_disabled_admin_cannot_refresh(world: World) -> None:
    world.staff(admins=["ops-li"])
    tokens = world.sign_in(userid="ops-li")
    world.wecom.users["ops-li"]["status"] = 2
    with pytest.raises(Forbidden, match="disabled"):
        world.refresh(tokens.refresh_token)


def test_a_refresh_carries_the_operators_current_departments(world: World) -> None:
    world.staff(operators={"ops-li": ["2"]})
    tokens = world.sign_in(userid="ops-li")
    world.staff(operators={"ops-li": ["2", "3"]})
    renewed = world.refresh(tokens.refresh_token)
    assert _principal(renewed.access_token).dept_ids == ("2", "3")


def test_an_affiliate_refreshes_without_asking_wechat_again(world: World) -> None:
    tokens = service.sign_in_with_miniprogram(world.ports, CORP, world.js_code("oOpen1", "oUnion1"), NOW)
    calls = len(world.miniprogram.calls)
    renewed = world.refresh(tokens.refresh_token)
    assert _principal(renewed.access_token).subject == "oUnion1" and len(world.miniprogram.calls) == calls


def test_sign_out_ends_the_session(world: World) -> None:
    tokens = world.sign_in(userid="zhangwei")
    assert service.sign_out(world.ports, tokens.refresh_token, NOW) is True
    assert service.sign_out(world.ports, tokens.refresh_token, NOW) is False
    assert service.sign_out(world.ports, "nonsense", NOW) is False
    with pytest.raises(Unauthenticated, match="ended"):
        world.refresh(tokens.refresh_token)


# --- the pure rules -------------------------------------------------------------------------------


def test_refresh_tokens_name_their_tenant_and_nothing_else_passes() -> None:
    token = new_refresh_token(CORP, "x" * 43)
    assert read_refresh_token(token)[0] == CORP
    for bad in ("", "x" * 43, f"{CORP}.short", f"{CORP}.{'x' * 44}", f"a.b.{'x' * 43}", "eyJ.eyJ.sig"):
        with pytest.raises(Unauthenticated):
            read_refresh_token(bad)


def test_refusal_rules() -> None:
    session = {"session_id": "s", "status": "active", "signed_in_at": iso_utc(NOW)}
    token = {"session_id": "s", "status": "active", "expires_at_iso": iso_utc(NOW + timedelta(days=14))}
    assert refusal(token, session, NOW) is None
    assert refusal(None, session, NOW) is Refusal.UNKNOWN
    assert refusal(dict(token, session_id="other"), session, NOW) is Refusal.UNKNOWN
    assert refusal(token, dict(session, status="ended"), NOW) is Refusal.ENDED
    assert refusal(dict(token, status="used"), session, NOW) is Refusal.REPLAYED
    assert refusal(token, session, NOW + timedelta(days=14)) is Refusal.EXPIRED
    far = dict(token, expires_at_iso=iso_utc(NOW + timedelta(days=365)))
    assert refusal(far, session, NOW + SESSION_LIFETIME) is Refusal.TOO_OLD


# --- the staff list ---------------------------------------------------------------------------------


def test_the_staff_list_refuses_duplicates_double_roles_and_unknown_departments(world: World) -> None:
    cases = [
        (SignInStaff(admins=["a", "a"]), "admins.1"),
        (
            SignInStaff(admins=["a"], operators=[OperatorGrant(user_id="a", dept_ids=["2"])]),
            "operators.0.user_id",
        ),
        (
            SignInStaff(
                operators=[
                    OperatorGrant(user_id="o", dept_ids=["2"]),
                    OperatorGrant(user_id="o", dept_ids=["3"]),
                ]
            ),
            "operators.1.user_id",
        ),
        (SignInStaff(operators=[OperatorGrant(user_id="o", dept_ids=["999"])]), "operators.0.dept_ids"),
    ]
    for staff, field in cases:
        with pytest.raises(InvalidInput) as refused:
            save_staff(world.ports.staff, CORP, staff, NOW)
        assert refused.value.field == field
    assert load_staff(world.ports.staff, CORP) == SignInStaff()
