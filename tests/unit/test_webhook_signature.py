"""SPEC §3.2: HMAC-SHA256 over "timestamp.body", a 300-second replay window."""

from datetime import UTC, datetime

import pytest

from incentives.core.errors import Unauthenticated
from incentives.webhook.signature import sign, verify

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
STAMP = str(int(NOW.timestamp()))
BODY = b'{"event_id":"e-1"}'


def test_a_signature_is_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"s3cret", f"{STAMP}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", STAMP, BODY) == f"sha256={expected}"


def test_a_correctly_signed_fresh_request_passes() -> None:
    verify("s3cret", STAMP, sign("s3cret", STAMP, BODY), BODY, NOW)


@pytest.mark.parametrize("skew", [-300, 300])
def test_a_timestamp_at_the_edge_of_the_window_passes(skew: int) -> None:
    stamp = str(int(NOW.timestamp()) + skew)
    verify("s3cret", stamp, sign("s3cret", stamp, BODY), BODY, NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_a_timestamp_more_than_300_seconds_off_is_refused(skew: int) -> None:
    stamp = str(int(NOW.timestamp()) + skew)
    with pytest.raises(Unauthenticated, match="300 s") as raised:
        verify("s3cret", stamp, sign("s3cret", stamp, BODY), BODY, NOW)
    assert raised.value.field == "X-Timestamp"


def test_a_changed_body_is_refused() -> None:
    with pytest.raises(Unauthenticated) as raised:
        verify("s3cret", STAMP, sign("s3cret", STAMP, BODY), BODY + b" ", NOW)
    assert raised.value.field == "X-Signature"


def test_another_secret_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        verify("s3cret", STAMP, sign("other", STAMP, BODY), BODY, NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature", "field"),
    [(None, "sha256=00", "X-Timestamp"), (STAMP, None, "X-Signature"), ("soon", "sha256=00", "X-Timestamp")],
)
def test_missing_or_malformed_headers_are_named(
    timestamp: str | None, signature: str | None, field: str
) -> None:
    with pytest.raises(Unauthenticated) as raised:
        verify("s3cret", timestamp, signature, BODY, NOW)
    assert raised.value.field == field
