"""The embedded AWS endpoint (moto in server mode) and its resources, created from template.yaml."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

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


class EmbeddedAws:
    """moto's threaded server on ``config.aws_port``."""

    def __init__(self, config: LocalConfig) -> None:
        self._config = config
        self._server = ThreadedMotoServer(ip_address=config.host, port=config.aws_port, verbose=False)

    def start(self) -> None:
        if port_open(self._config.host, self._config.aws_port):
            raise RuntimeError(f"port {self._config.aws_port} is taken: set LOCAL_AWS_PORT to a free port")
        self._server.start()
        deadline = time.monotonic() + 10
        while not port_open(self._config.host, self._config.aws_port):
            if time.monotonic() > deadline:
                raise RuntimeError("the embedded AWS endpoint did not start")
            time.sleep(0.05)

    def stop(self) -> None:
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
    """Template parameters named ``*SecretsName`` point at secrets; seed them from local settings."""
    secrets = client("secretsmanager", config)
    for parameter in stack.document.get("Parameters", {}):
        if not parameter.endswith("SecretsName"):
            continue
        name, value = resolver.parameters[parameter], json.dumps(config.tenant_secrets())
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
