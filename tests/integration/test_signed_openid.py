"""The openid an affiliate is paid at is the one their mini program sign-in verified: a body may
leave it out or repeat it, never name another; a token without one (the merchant's own sign-in)
must send it. A refused application stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incentives.core.access import Role, mint_token
from incentives.runtime import wiring
from incentives.storage.affiliates.repository import TableAffiliates
from tests.conftest import StackHandle
from tests.integration.test_affiliates import CENTER_API, call, configure
from tests.support import LOCAL_CORP, token_for

SECRET = "local-api-jwt-secret-for-development-only"


def _signed_in(who: str, openid: str) -> str:
    """An affiliate's token as the mini program sign-in issues it: the verified openid in a claim."""
    return mint_token(
        SECRET,
        LOCAL_CORP,
        who,
        Role.AFFILIATE,
        datetime.now(UTC),
        ttl=timedelta(hours=1),
        extra_claims={"openid": openid},
    )


def _apply(stack: StackHandle, token: str, **body: str) -> tuple[int, dict[str, object]]:
    status, answer = call(
        stack, CENTER_API, "POST", "/affiliate/application", token, json={"answers": {}, **body}
    )
    return status, answer


def _paid_at(who: str) -> object:
    profile = TableAffiliates(wiring.table()).profile(LOCAL_CORP, who)
    return profile["openid"] if profile else None


def test_the_signed_in_openid_is_kept_when_the_body_leaves_it_out(stack: StackHandle) -> None:
    configure(stack)
    status, answer = _apply(stack, _signed_in("so-A", "oSignedA01"))
    assert status == 200, answer
    assert _paid_at("so-A") == "oSignedA01"


def test_a_body_repeating_the_signed_in_openid_is_accepted(stack: StackHandle) -> None:
    configure(stack)
    status, answer = _apply(stack, _signed_in("so-B", "oSignedB01"), openid="oSignedB01")
    assert status == 200, answer
    assert _paid_at("so-B") == "oSignedB01"


def test_another_openid_than_the_signed_in_one_is_a_400_and_stores_nothing(stack: StackHandle) -> None:
    configure(stack)
    status, answer = _apply(stack, _signed_in("so-C", "oSignedC01"), openid="oSomeoneElse")
    assert status == 400, answer
    assert answer["error"]["field"] == "openid"  # type: ignore[index]
    assert _paid_at("so-C") is None
    assert TableAffiliates(wiring.table()).application(LOCAL_CORP, "so-C") is None


def test_without_a_signed_in_openid_the_body_must_name_one(stack: StackHandle) -> None:
    configure(stack)
    token = token_for("affiliate", subject="so-D")
    status, answer = _apply(stack, token)
    assert status == 400, answer
    assert answer["error"]["field"] == "openid"  # type: ignore[index]
    status, answer = _apply(stack, token, openid="oSentD0001")
    assert status == 200, answer
    assert _paid_at("so-D") == "oSentD0001"
