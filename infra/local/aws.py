"""The embedded AWS endpoint (moto in server mode) and its resources, created from template.yaml."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from botocore.exceptions import ClientError
from flask import Flask
from moto.backends import SERVICE_NAMES
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from infra.local import fast_dynamodb, fast_sqs
from infra.local.config import ACCOUNT_ID, LocalConfig
from infra.local.template import Resolver, Stack

log = logging.getLogger("local.aws")

# Declared by the template, meaningless or unavailable on one machine: skipped, with a log line.
NOT_EMULATED = {
    "AWS::ApiGateway::Account",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::IAM::Role",
    "AWS::KMS::Alias",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::SNS::Subscription",
}


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.3)
        return probe.connect_ex((host, port)) == 0


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneAtATime:
    """WSGI middleware: the wrapped app serves one request at a time, its answer read whole.

    moto's DynamoDB is not thread-safe: ``TransactWriteItems`` applies its writes one by one
    and, when one fails, puts back a copy of the whole table taken before, wiping what other
    requests wrote meanwhile; a conditional write checks and writes in two steps; a scan may
    iterate a dictionary another request is changing. DynamoDB itself makes each request atomic
    and isolated; serialising every request (reads too) gives the same guarantees locally.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            answer = self._app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()


def _backend_app(service: SERVICE_NAMES) -> Flask:
    """moto's app of one service; DynamoDB's serves one request at a time."""
    app = create_backend_app(service)
    if service == "sqs":
        fast_sqs.install()
    if service == "dynamodb":
        fast_dynamodb.install()
        app.wsgi_app = OneAtATime(app.wsgi_app)  # type: ignore[method-assign]
    return app


class MotoServer:
    """moto in server mode, as its ``ThreadedMotoServer`` runs it (a thread per request), except
    that DynamoDB requests are serialised (:class:`OneAtATime`). Every embedded endpoint (the
    local stack, the test fixtures, the benchmarks) is one of these."""

    def __init__(self, host: str, port: int) -> None:
        app = DomainDispatcherApplication(_backend_app)
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class EmbeddedAws:
    """The local stack's :class:`MotoServer` on ``config.aws_port``."""

    def __init__(self, config: LocalConfig) -> None:
        self._config = config
        self._server: MotoServer | None = None

    def start(self) -> None:
        if port_open(self._config.host, self._config.aws_port):
            raise RuntimeError(f"port {self._config.aws_port} is taken: set LOCAL_AWS_PORT to a free port")
        self._server = MotoServer(self._config.host, self._config.aws_port)
        self._server.start()
        deadline = time.monotonic() + 10
        while not port_open(self._config.host, self._config.aws_port):
            if time.monotonic() > deadline:
                raise RuntimeError("the embedded AWS endpoint did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def client(service: str, config: LocalConfig) -> Any:
    return boto3.client(
        service,
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _physical_name(config: LocalConfig, logical: str) -> str:
    return f"{config.stack_name}-{logical}"


def base_resolver(stack: Stack, config: LocalConfig) -> Resolver:
    from infra.local.sandboxes import parameter_overrides

    parameters = stack.parameter_defaults()
    if "DefaultCorpId" in parameters:
        parameters["DefaultCorpId"] = config.corp_id
    parameters.update({k: v for k, v in parameter_overrides(config).items() if k in parameters})
    unknown = set(config.parameter_overrides) - set(parameters)
    if unknown:
        raise ValueError(f"LOCAL_PARAMETERS names parameters the template lacks: {sorted(unknown)}")
    parameters.update(config.parameter_overrides)
    return Resolver(
        parameters=parameters,
        pseudo={
            "AWS::Region": config.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": config.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        },
    )


def name_resources(stack: Stack, config: LocalConfig) -> Resolver:
    """Physical names and attributes of every resource, without creating anything.

    Names are deterministic (``<stack>-<LogicalId>``), so ``invoke`` can address the
    resources of a stack that ``run`` started in another process.
    """
    resolver = base_resolver(stack, config)
    arn = f"arn:aws:{{service}}:{config.region}:{ACCOUNT_ID}:{{rest}}"
    for logical, resource in stack.document["Resources"].items():
        kind, name = resource["Type"], _physical_name(config, logical)
        if kind == "AWS::DynamoDB::Table":
            resolver.refs[logical] = name
            resolver.attributes[(logical, "Arn")] = arn.format(service="dynamodb", rest=f"table/{name}")
        elif kind == "AWS::SQS::Queue":
            url = f"{config.endpoint_url}/{ACCOUNT_ID}/{name}"
            resolver.refs[logical] = url
            resolver.attributes[(logical, "Arn")] = arn.format(service="sqs", rest=name)
            resolver.attributes[(logical, "QueueName")] = name
            resolver.attributes[(logical, "QueueUrl")] = url
        elif kind == "AWS::SNS::Topic":
            resolver.refs[logical] = arn.format(service="sns", rest=name)
            resolver.attributes[(logical, "TopicArn")] = resolver.refs[logical]
        elif kind == "AWS::Serverless::Function":
            resolver.refs[logical] = name
            resolver.attributes[(logical, "Arn")] = arn.format(service="lambda", rest=f"function:{name}")
        else:
            resolver.refs[logical] = name
    return resolver


def _create_table(dynamodb: Any, name: str, props: dict[str, Any]) -> None:
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    try:
        dynamodb.create_table(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        return
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )


def _queue_order(queues: dict[str, dict[str, Any]]) -> list[str]:
    """Dead-letter queues before the queues that redrive into them."""

    def depends_on(logical: str) -> list[str]:
        redrive = queues[logical].get("Properties", {}).get("RedrivePolicy", {})
        target = redrive.get("deadLetterTargetArn", {})
        return [target["Fn::GetAtt"][0]] if isinstance(target, dict) and "Fn::GetAtt" in target else []

    ordered: list[str] = []

    def visit(logical: str) -> None:
        for dependency in depends_on(logical):
            visit(dependency)
        if logical not in ordered:
            ordered.append(logical)

    for logical in queues:
        visit(logical)
    return ordered


def provision(stack: Stack, config: LocalConfig) -> Resolver:
    """Create every table, queue, topic, parameter and secret the template declares. Idempotent."""
    resolver = name_resources(stack, config)
    dynamodb, sqs = client("dynamodb", config), client("sqs", config)
    for logical, resource in stack.resources_of("AWS::DynamoDB::Table").items():
        _create_table(dynamodb, resolver.refs[logical], resolver.resolve(resource["Properties"]))
    queues = stack.resources_of("AWS::SQS::Queue")
    for logical in _queue_order(queues):
        props = resolver.resolve(queues[logical].get("Properties", {}))
        attributes = {
            key: str(props[key])
            for key in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
            )
            if key in props
        }
        if config.queue_visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(config.queue_visibility_timeout)
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        sqs.create_queue(QueueName=resolver.attributes[(logical, "QueueName")], Attributes=attributes)
    if stack.resources_of("AWS::SNS::Topic"):
        sns = client("sns", config)
        for logical in stack.resources_of("AWS::SNS::Topic"):
            sns.create_topic(Name=_physical_name(config, logical))
    if stack.resources_of("AWS::SSM::Parameter"):
        ssm = client("ssm", config)
        for logical, resource in stack.resources_of("AWS::SSM::Parameter").items():
            props = resolver.resolve(resource["Properties"])
            name = props.get("Name", _physical_name(config, logical))
            ssm.put_parameter(
                Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"), Overwrite=True
            )
            resolver.refs[logical] = name
    _seed_secrets(stack, config, resolver)
    for logical, resource in stack.document["Resources"].items():
        if resource["Type"] in NOT_EMULATED:
            log.info("%s (%s) is not emulated locally", logical, resource["Type"])
    return resolver


def _seed_secrets(stack: Stack, config: LocalConfig, resolver: Resolver) -> None:
    """One secret per tenant and purpose under the template's ``TenantSecretsPrefix``, named as on
    AWS (``<prefix>/<corp_id>/<purpose>``), from the local settings."""
    from incentives.runtime.secrets import is_corp_id, secret_name, split_by_purpose

    if "TenantSecretsPrefix" not in stack.document.get("Parameters", {}):
        return
    prefix = str(resolver.parameters["TenantSecretsPrefix"])
    secrets = client("secretsmanager", config)
    for corp_id, tenant in config.tenant_secrets().items():
        if not is_corp_id(corp_id):
            raise ValueError(f"LOCAL_EXTRA_TENANTS: {corp_id!r} is not a corp id (letters, digits, - and _)")
        try:
            documents = split_by_purpose(tenant)
        except ValueError as error:
            raise ValueError(f"LOCAL_EXTRA_TENANTS, tenant {corp_id}: {error}") from None
        for purpose, document in documents.items():
            name, value = secret_name(prefix, corp_id, purpose), json.dumps(document)
            try:
                secrets.create_secret(Name=name, SecretString=value)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceExistsException":
                    raise
                secrets.put_secret_value(SecretId=name, SecretString=value)


def function_environment(stack: Stack, resolver: Resolver, config: LocalConfig) -> dict[str, str]:
    """One process hosts every function, so their variables must agree; a clash is an error."""
    merged: dict[str, str] = {}
    for spec in stack.functions.values():
        for key, value in resolver.resolve(spec.environment).items():
            text = str(value)
            if key in merged and merged[key] != text:
                raise ValueError(f"{spec.name} sets {key}={text!r} but another function sets {merged[key]!r}")
            merged[key] = text
    merged.update(config.aws_environment())
    merged.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    merged.setdefault("POWERTOOLS_METRICS_DISABLED", os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"))
    return merged
