"""Property-based fuzzing of the four APIs from the OpenAPI documents they serve (schemathesis).

Each document is fetched from its Swagger route through the local gateway; schemathesis then
generates requests for every operation (valid and invalid parameters and bodies) and sends
them with a valid token of the API's audience. Every answer must be below 500 and carry a
status code, a media type and a body the document lists for that operation. The number of
examples is bounded so the whole module stays well within a minute or two on a small machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.local.gateway import LocalGatewayServer, TemplateGateway
from infra.local.template import read_stack
from tests.conftest import StackHandle
from tests.support import free_port, token_for

EXAMPLES_PER_OPERATION = 8

APIS = [
    ("/admin/swagger", "admin"),
    ("/admin/affiliates/swagger", "admin"),
    ("/admin/subsidy/swagger", "admin"),
    ("/guide/swagger", "guide"),
    ("/affiliate/swagger", "affiliate"),
    ("/admin/wechat-store/swagger", "admin"),
]
STANDARD_ERRORS = {"400", "401", "403", "404", "413", "415", "503"}


@pytest.fixture
def gateway(stack: StackHandle) -> Iterator[str]:
    port = free_port()
    server = LocalGatewayServer(
        TemplateGateway(read_stack().routes, stack.functions, "prod", stack.config.region),
        "127.0.0.1",
        port,
    )
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.mark.parametrize("swagger", [swagger for swagger, _ in APIS])
def test_every_operation_documents_the_error_answers_and_no_422(gateway: str, swagger: str) -> None:
    document = requests.get(f"{gateway}{swagger}", params={"format": "json"}, timeout=30).json()
    error = {"$ref": "#/components/schemas/ErrorAnswer"}
    for name in document["components"]["responses"].values():
        assert name["content"]["application/json"]["schema"] == error
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            expected = STANDARD_ERRORS | ({"409"} if method != "get" else set())
            assert expected <= documented and "422" not in documented, (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(("swagger", "role"), APIS, ids=[swagger for swagger, _ in APIS])
def test_no_generated_request_gets_a_5xx_or_an_undocumented_status(
    gateway: str, swagger: str, role: str
) -> None:
    document = requests.get(f"{gateway}{swagger}", params={"format": "json"}, timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {token_for(role)}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_within_the_contract(case: schemathesis.Case) -> None:
            response = case.call(base_url=gateway, headers=headers, timeout=30)
            case.validate_response(
                response,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        answers_within_the_contract()
