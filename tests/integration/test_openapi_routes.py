"""Every API route of template.yaml is in its function's served OpenAPI document, typed.

For each function with Api events: its document (GET <audience>/swagger?format=json) has
exactly the template's routes; each operation's success answer has a JSON schema naming its
fields (a model, or a list of models), not a free-form object or a bare string; each operation
that takes a body documents the body's schema the same way. A route added to the template but
not to the resolver (or the other way round), or one returning an untyped dict, fails here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from infra.local.template import Route, read_stack
from tests.conftest import StackHandle
from tests.support import api_event

UNDOCUMENTED = {
    "OrderWebhookFunction": "the commerce webhook: an HMAC-signed event envelope (SPEC §3.1)",
    "WecomCallbackFunction": "WeCom's encrypted XML callback, WeCom's format",
    "WechatPayNotifyFunction": "WeChat Pay's signed, encrypted notification, WeChat Pay's format",
}
"""Api functions that serve no OpenAPI document: the other side defines their contract."""

ACTIONS_WITHOUT_INPUT = {
    ("POST", "/admin/org/sync"),
    ("POST", "/admin/tags/import"),
    ("POST", "/admin/affiliates/withdrawals/{withdrawal_id}/cancel"),
    ("POST", "/affiliate/stores/{store_id}/application"),
}
"""POST routes that take no body (the path says everything); every other POST, PUT and PATCH does."""

METHODS = ("get", "put", "post", "delete", "patch")


def _routes_by_function() -> dict[str, list[Route]]:
    found: dict[str, list[Route]] = defaultdict(list)
    for route in read_stack().routes:
        found[route.function].append(route)
    return dict(found)


ROUTES = _routes_by_function()
DOCUMENTED = sorted(name for name in ROUTES if name not in UNDOCUMENTED)


def _swagger(routes: list[Route]) -> str:
    paths = [r.path for r in routes if r.method == "GET" and r.path.endswith("/swagger")]
    assert len(paths) == 1, f"no single GET …/swagger route among {[r.path for r in routes]}"
    return paths[0]


def _document(stack: StackHandle, function: str, swagger: str) -> dict[str, Any]:
    response = stack.invoke(function, api_event("GET", swagger, query={"format": ["json"]}))
    assert response["statusCode"] == 200, response
    document: dict[str, Any] = json.loads(response["body"])
    return document


def _resolved(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def _untyped(
    schema: dict[str, Any] | None, document: dict[str, Any], inside: bool = False, scalar_maps: bool = False
) -> str | None:
    """Why ``schema`` does not describe its fields, or None when it does: a model, or a list of
    them; a scalar only ``inside`` a list or a model; a map of scalars only with ``scalar_maps``
    (a body of attribute changes), otherwise a map of models."""
    if not schema:
        return "no schema"
    schema = _resolved(schema, document)
    variants = [v for v in schema.get("anyOf", schema.get("oneOf", [])) if v != {"type": "null"}]
    if variants:
        reasons = [_untyped(variant, document, inside, scalar_maps) for variant in variants]
        return next((reason for reason in reasons if reason), None)
    kind = schema.get("type")
    if kind == "array":
        reason = _untyped(schema.get("items"), document, inside=True)
        return f"items: {reason}" if reason else None
    if kind == "object":
        if schema.get("properties"):
            return None
        values = schema.get("additionalProperties")
        if not isinstance(values, dict) or not values:
            return "a free-form object"
        reason = _untyped(values, document, inside=scalar_maps)
        return f"a map of {reason}" if reason else None
    return None if inside and kind else f"a bare {kind or 'value'}"


def _json_schema(part: dict[str, Any]) -> dict[str, Any] | None:
    schema: dict[str, Any] | None = part.get("content", {}).get("application/json", {}).get("schema")
    return schema


def test_every_api_function_serves_a_document_or_is_known_not_to() -> None:
    assert set(UNDOCUMENTED) <= set(ROUTES), "an exempt function has no Api events any more"
    for function in DOCUMENTED:
        _swagger(ROUTES[function])


@pytest.mark.parametrize("function", DOCUMENTED)
def test_every_route_is_documented_with_typed_request_and_answer(stack: StackHandle, function: str) -> None:
    routes = ROUTES[function]
    swagger = _swagger(routes)
    document = _document(stack, function, swagger)
    served = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }
    deployed = {(r.method, r.path) for r in routes if r.path != swagger}
    assert served == deployed, (
        f"documented, not deployed: {served - deployed}; deployed, not documented: {deployed - served}"
    )
    problems = []
    for method, path in sorted(deployed):
        operation = document["paths"][path][method.lower()]
        successes = sorted(status for status in operation["responses"] if status.startswith("2"))
        if not successes:
            problems.append(f"{method} {path}: no success answer")
            continue
        answer = operation["responses"][successes[0]]
        reason = _untyped(_json_schema(answer), document)
        if reason:
            problems.append(f"{method} {path} {successes[0]}: the answer is {reason}")
        takes_body = method in {"PUT", "PATCH"} or (
            method == "POST" and (method, path) not in ACTIONS_WITHOUT_INPUT
        )
        body = operation.get("requestBody")
        if takes_body and body is None:
            problems.append(f"{method} {path}: no request body documented")
        elif body is not None:
            reason = _untyped(_json_schema(body), document, scalar_maps=True)
            if reason:
                problems.append(f"{method} {path}: the request body is {reason}")
    assert not problems, "\n".join(problems)


def test_a_free_form_answer_is_reported() -> None:
    document = {"components": {"schemas": {"Page": {"type": "object", "properties": {"items": {}}}}}}
    assert _untyped({"type": "object", "additionalProperties": True}, document) == "a free-form object"
    assert _untyped({"type": "array", "items": {"type": "object"}}, document) == "items: a free-form object"
    assert _untyped({"type": "string"}, document) == "a bare string"
    assert _untyped({}, document) == "no schema"
    assert _untyped({"$ref": "#/components/schemas/Page"}, document) is None
    strings = {"type": "object", "additionalProperties": {"type": "string"}}
    assert _untyped(strings, document) == "a map of a bare string"
    assert _untyped(strings, document, scalar_maps=True) is None
    assert (
        _untyped({"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Page"}}, document)
        is None
    )
    assert _untyped({"type": "array", "items": {"type": "string"}}, document) is None
