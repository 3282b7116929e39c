"""Domain errors. The HTTP mapping lives in one place: ``incentives.api.errors``."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "domain_error"
    retry_after_seconds: int | None = None
    """When answered as 503: after how many seconds the same request may succeed."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def details(self) -> dict[str, object]:
        """What the error answer shows besides code, message and field (none by default)."""
        return {}


class InvalidInput(DomainError):
    """The input is malformed or breaks a rule; nothing was changed."""

    code = "invalid_input"


class Unauthenticated(DomainError):
    """The caller could not be authenticated (bad signature, stale timestamp, bad token)."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request contradicts what is already recorded (e.g. same event id, other body)."""

    code = "conflict"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class RetryLater(DomainError):
    """A transient state: the same request will succeed if sent again shortly."""

    code = "retry_later"
    retry_after_seconds = 1


class ConcurrentModification(DomainError):
    """An optimistic write lost a race; the caller re-reads and tries again."""

    code = "concurrent_modification"
    retry_after_seconds = 1


class UpstreamError(DomainError):
    """A service this one calls (WeCom) refused or failed a call."""

    code = "upstream_error"


class UpstreamUnavailable(UpstreamError):
    """The service is busy or rate-limited: the same request may succeed after ``retry_after_seconds``."""

    retry_after_seconds = 5
