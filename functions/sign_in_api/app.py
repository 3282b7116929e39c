"""Sign-in API under /auth (SPEC §3.3), and the console's staff list under /admin/sign-in.

- ``POST /auth/wecom`` ``{"code", "role"?}``: operators, admins and guides, with the code of
  WeCom's web OAuth or QR login;
- ``POST /auth/miniprogram`` ``{"code"}``: customers and affiliates, with ``wx.login()``'s code;
- ``POST /auth/refresh`` ``{"refresh_token"}``: a new pair (the refresh token is single use);
- ``POST /auth/sign-out`` ``{"refresh_token"}``: end the session.

The ``/auth`` routes take no bearer token; the tenant is ``X-Corp-Id`` (default
``WECOM_CORP_ID``) for sign-ins, and the refresh token's own for refresh and sign-out.
``GET``/``PUT /admin/sign-in/staff`` (admins): who signs in as admin or operator.
OpenAPI document and Swagger UI: ``GET /auth/swagger``.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from incentives.api.app import create_api, principal_of
from incentives.core.access import Role
from incentives.core.clock import SystemClock
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler
from incentives.signin import service
from incentives.signin.service import Tokens, load_staff, save_staff
from incentives.signin.staff import SignInStaff

logger = Logger(service="sign-in-api")
metrics = Metrics()
clock = SystemClock()
app = create_api(
    "auth",
    "Incentives — sign-in API",
    "Tokens for the operator, guide and affiliate APIs: WeCom and mini-program sign-in, refresh, "
    "sign-out; the console's staff list.",
    roles=(Role.ADMIN,),
    public_routes=("/auth/wecom", "/auth/miniprogram", "/auth/refresh", "/auth/sign-out"),
    api_secret=wiring.api_jwt_secret,
)
ANONYMOUS: list[dict[str, list[str]]] = [{}]
"""OpenAPI: these routes need no bearer token (they issue them)."""

LOGIN_CODE = r"^[A-Za-z0-9_\-.~+/=]+$"


class WeComSignIn(BaseModel):
    code: str = Field(
        min_length=1,
        max_length=512,
        pattern=LOGIN_CODE,
        description="The code WeCom's web OAuth or QR login redirect carried (single use, 5 minutes)",
    )
    role: Literal["admin", "operator", "guide"] | None = Field(
        default=None,
        description="The role wanted by a member who holds several (default: admin, operator, guide)",
    )


class MiniProgramSignIn(BaseModel):
    code: str = Field(
        min_length=1,
        max_length=512,
        pattern=LOGIN_CODE,
        description="The code of wx.login() in the merchant's mini program (single use, 5 minutes)",
    )


class RefreshRequest(BaseModel):
    refresh_token: str = Field(
        min_length=1, max_length=2048, description="The refresh token of the last pair"
    )


class SignedIn(BaseModel):
    """A token pair: send ``access_token`` as ``Authorization: Bearer``; refresh before it expires."""

    access_token: str = Field(description="Bearer JWT for /admin, /guide or /affiliate")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str = Field(description="Single use: POST /auth/refresh answers a new pair")
    refresh_expires_in: int = Field(description="Seconds the refresh token is valid")
    role: Role
    subject: str = Field(description="The token's sub: a WeCom userid, or a customer's unionid")
    dept_ids: list[str] = Field(description="An operator's departments (their data scope)")
    openid: str | None = Field(default=None, description="Mini program: the user's openid under the app")

    @classmethod
    def of(cls, tokens: Tokens) -> SignedIn:
        return cls(
            access_token=tokens.access_token,
            expires_in=tokens.access_expires_in,
            refresh_token=tokens.refresh_token,
            refresh_expires_in=tokens.refresh_expires_in,
            role=tokens.identity.role,
            subject=tokens.identity.subject,
            dept_ids=list(tokens.identity.dept_ids),
            openid=tokens.identity.openid,
        )


class SignedOut(BaseModel):
    ended: bool = Field(description="Whether a session was ended now (false: unknown or ended already)")


def _tenant() -> str:
    named = app.current_event.headers.get("X-Corp-Id")
    return (named or settings().default_corp_id).strip()


def _signed_in(tokens: Tokens, method: str) -> SignedIn:
    metrics.add_metric(name=f"SignIn_{method}", unit=MetricUnit.Count, value=1)
    who = {"sub": tokens.identity.subject} if method == "wecom" else {}  # customers' ids stay out of logs
    logger.info("signed in", extra={"method": method, "role": tokens.identity.role.value, **who})
    return SignedIn.of(tokens)


@app.post(
    "/auth/wecom",
    summary="Sign in with WeCom (operators, admins, guides)",
    tags=["sign-in"],
    security=ANONYMOUS,
)
def sign_in_with_wecom(body: WeComSignIn) -> SignedIn:
    wanted = Role(body.role) if body.role else None
    tokens = service.sign_in_with_wecom(wiring.sign_in_ports(), _tenant(), body.code, wanted, clock.now())
    return _signed_in(tokens, "wecom")


@app.post(
    "/auth/miniprogram",
    summary="Sign in with the mini program (customers, affiliates)",
    tags=["sign-in"],
    security=ANONYMOUS,
)
def sign_in_with_miniprogram(body: MiniProgramSignIn) -> SignedIn:
    tokens = service.sign_in_with_miniprogram(wiring.sign_in_ports(), _tenant(), body.code, clock.now())
    return _signed_in(tokens, "miniprogram")


@app.post(
    "/auth/refresh", summary="A new token pair for a refresh token", tags=["sign-in"], security=ANONYMOUS
)
def refresh(body: RefreshRequest) -> SignedIn:
    return SignedIn.of(service.refresh(wiring.sign_in_ports(), body.refresh_token, clock.now()))


@app.post(
    "/auth/sign-out", summary="End the session of a refresh token", tags=["sign-in"], security=ANONYMOUS
)
def sign_out(body: RefreshRequest) -> SignedOut:
    return SignedOut(ended=service.sign_out(wiring.sign_in_ports(), body.refresh_token, clock.now()))


@app.get("/admin/sign-in/staff", summary="Who signs in as admin or operator", tags=["staff"])
def get_staff() -> SignInStaff:
    principal = principal_of(app, (Role.ADMIN,))
    return load_staff(wiring.sign_in_ports().staff, principal.corp_id)


@app.put("/admin/sign-in/staff", summary="Name the admins and operators (WeCom userids)", tags=["staff"])
def put_staff(staff: SignInStaff) -> SignInStaff:
    principal = principal_of(app, (Role.ADMIN,))
    saved = save_staff(wiring.sign_in_ports().staff, principal.corp_id, staff, clock.now())
    logger.info(
        "sign-in staff saved",
        extra={"by": principal.subject, "admins": len(saved.admins), "operators": len(saved.operators)},
    )
    return saved


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
