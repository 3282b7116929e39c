"""Domain errors. The HTTP mapping lives in one place: ``incentives.api.errors``."""

from __future__ import annotations

from typing import ClassVar


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


class InvalidPart(ValueError):
    """A model validator's complaint about one part of the model it checks, named by ``path``.

    pydantic locates a model validator's error at the model itself (``application``);
    ``incentives.api.errors.invalid_input`` appends ``path`` to name the exact part
    (``application.match``, ``form.custom_fields.3.key``).
    """

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.path = path


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


class UnsupportedMediaType(DomainError):
    """The body is not in the media type the endpoint reads (JSON)."""

    code = "unsupported_media_type"


class TooManyRequests(DomainError):
    """A provider's rate limit was reached for this caller; try again later."""

    code = "rate_limited"


class RetryLater(DomainError):
    """A transient state: the same request will succeed if sent again shortly."""

    code = "retry_later"
    retry_after_seconds = 1


class ConcurrentModification(DomainError):
    """An optimistic write lost a race; the caller re-reads and tries again."""

    code = "concurrent_modification"
    retry_after_seconds = 1


class UpstreamError(DomainError):
    """A provider we depend on (WeCom, WeChat) failed or refused us, not because of the input."""

    code = "upstream_error"


class UpstreamUnavailable(UpstreamError):
    """The service is busy or rate-limited: the same request may succeed after ``retry_after_seconds``."""

    retry_after_seconds = 5


class ErrcodeRefusal(UpstreamError):
    """A Tencent API (WeCom, WeChat Store) answered a non-zero ``errcode``. Each service's error
    names itself (``service``), what its errcodes mean to a merchant (``meanings``), the errcodes
    after which the same call can succeed (``retry_after``: seconds) and its unavailable kind."""

    service: ClassVar[str] = "the service"
    refusal: ClassVar[str] = "the service refused the call"
    meanings: ClassVar[dict[int, str]] = {}
    retry_after: ClassVar[dict[int, int]] = {}
    unavailable: ClassVar[type[ErrcodeRefusal] | None] = None

    def __init__(self, errcode: int, errmsg: str, path: str) -> None:
        super().__init__(self.meanings.get(errcode, f"{self.refusal}: {errmsg or 'no reason given'}"))
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path

    def __str__(self) -> str:
        return f"{self.service} {self.path}: errcode {self.errcode}, {self.errmsg}"

    def details(self) -> dict[str, object]:
        shown: dict[str, object] = {"errcode": self.errcode, "errmsg": self.errmsg, "api": self.path}
        if self.retry_after_seconds is not None:
            shown["retry_after_seconds"] = self.retry_after_seconds
        return shown

    @classmethod
    def of(cls, errcode: int, errmsg: str, path: str) -> ErrcodeRefusal:
        """The error for an errcode: the service's unavailable kind when a later call can succeed."""
        if errcode in cls.retry_after and cls.unavailable is not None:
            error = cls.unavailable(errcode, errmsg, path)
            error.retry_after_seconds = cls.retry_after[errcode]
            return error
        return cls(errcode, errmsg, path)
