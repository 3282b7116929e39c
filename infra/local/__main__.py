"""Command line of the local runtime.

python -m infra.local run                          # the whole stack (make run)
python -m infra.local invoke FUNCTION EVENT_FILE   # one function, once, like sam local invoke
python -m infra.local fire FUNCTION [--at TIME]    # fire a function's schedule now
python -m infra.local routes                       # what the gateway serves
python -m infra.local demo                         # the state the samples need (make demo)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.local import aws
from infra.local.config import LocalConfig
from infra.local.fanout import RunReport, drive, follow, started_run
from infra.local.gateway import LocalGatewayServer, TemplateGateway
from infra.local.lambdas import Functions
from infra.local.outcomes import OutcomeLog, sent_messages
from infra.local.poller import QueuePoller
from infra.local.sandboxes import SANDBOXES
from infra.local.scheduler import Scheduler, scheduled_event
from infra.local.template import ROOT, Resolver, Stack, read_stack

log = logging.getLogger("local")


def _api_stage(stack: Stack, resolver: Resolver) -> str:
    for resource in stack.resources_of("AWS::Serverless::Api").values():
        return str(resolver.resolve(resource["Properties"].get("StageName", "prod")))
    return "prod"


def _apply_environment(values: dict[str, str]) -> None:
    os.environ.update(values)
    # The layer caches clients and settings per process; make it read the new environment.
    layer = str(ROOT / "layers" / "incentives" / "python")
    if layer not in sys.path:
        sys.path.insert(0, layer)
    from incentives.runtime import wiring

    wiring.reset()


def _start_sandboxes(config: LocalConfig) -> list[Any]:
    started = []
    for entry in SANDBOXES:
        if aws.port_open(config.host, int(entry.url(config).rsplit(":", 1)[1])):
            raise RuntimeError(f"{entry.url(config)} is taken: set the sandbox's port variable (see README)")
        sandbox = entry.build(config)
        sandbox.start()
        started.append(sandbox)
        log.info("sandbox %s on %s", sandbox.name, sandbox.base_url)
    # `POST /sandbox/reset` on any sandbox resets them all, so one call gives a clean slate.
    everything = [reset for sandbox in started for reset in sandbox.resets]
    for sandbox in started:
        sandbox.resets[:] = everything
    return started


def run(_: argparse.Namespace) -> int:
    config = LocalConfig.from_env()
    stack = read_stack()
    endpoint = aws.EmbeddedAws(config)
    endpoint.start()
    resolver = aws.provision(stack, config)
    sandboxes = _start_sandboxes(config)
    _apply_environment(aws.function_environment(stack, resolver, config))
    functions = Functions(stack, config.region, config.function_concurrency)
    gateway = LocalGatewayServer(
        TemplateGateway(stack.routes, functions, _api_stage(stack, resolver), config.region),
        config.host,
        config.api_port,
    )
    sqs = aws.client("sqs", config)
    outcomes = OutcomeLog.of(config)
    outcomes.clear()
    pollers = [
        QueuePoller(mapping, resolver, functions, sqs, config.region, config.poll_wait_seconds, outcomes)
        for mapping in stack.queue_mappings
    ]
    scheduler = Scheduler(stack.schedules, functions, config.region, config.stack_name)
    gateway.start()
    for poller in pollers:
        poller.start()
    if config.scheduler_enabled:
        scheduler.start()

    print(f"AWS endpoint   {config.endpoint_url}")
    for route in stack.routes:
        print(f"API            {route.method:6} {config.api_url}{route.path}  -> {route.function}")
    for mapping in stack.queue_mappings:
        print(f"queue          {mapping.queue} -> {mapping.function} (batch {mapping.batch_size})")
    for schedule in stack.schedules:
        state = "on" if config.scheduler_enabled and schedule.enabled else "off"
        print(f"schedule       {schedule.expression} -> {schedule.function} ({state})")
    for sandbox in sandboxes:
        print(f"sandbox        {sandbox.name} {sandbox.base_url}")
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print("ready: Ctrl-C stops everything", flush=True)

    stopped.wait()
    print("stopping…", flush=True)
    scheduler.stop()
    for poller in pollers:
        poller.stop()
    gateway.stop()
    for sandbox in sandboxes:
        sandbox.stop()
    endpoint.stop()
    return 0


def _set_header(event: dict[str, Any], name: str, value: str) -> None:
    event.setdefault("headers", {})[name] = value
    if event.get("multiValueHeaders") and name in event["multiValueHeaders"]:
        event["multiValueHeaders"][name] = [value]


def _refresh_credentials(event: dict[str, Any], config: LocalConfig) -> None:
    """Re-sign a sample request with the current time, so stored samples stay valid.

    Webhook samples get a fresh ``X-Timestamp`` / ``X-Signature``; API samples a fresh bearer
    token with the same claims, signed with the local tenant's API secret.
    """
    import jwt

    from incentives.core.access import Role, mint_token
    from incentives.webhook.signature import sign

    headers = event.get("headers") or {}
    names = {name.lower(): name for name in headers}
    bearer = headers.get(names.get("authorization", ""), "")
    if bearer.startswith("Bearer "):
        claims = jwt.decode(bearer.removeprefix("Bearer "), options={"verify_signature": False})
        fresh = mint_token(
            config.api_jwt_secret,
            claims.get("corp_id", config.corp_id),
            claims["sub"],
            Role(claims["role"]),
            datetime.now(UTC),
            claims.get("dept_ids", []),
        )
        _set_header(event, names["authorization"], f"Bearer {fresh}")
    if "x-signature" not in names or "x-timestamp" not in names:
        return
    secret = config.order_webhook_secret
    timestamp = str(int(datetime.now(UTC).timestamp()))
    body = event.get("body") or ""
    raw = body.encode() if not event.get("isBase64Encoded") else __import__("base64").b64decode(body)
    _set_header(event, names["x-timestamp"], timestamp)
    _set_header(event, names["x-signature"], sign(secret, timestamp, raw))


class _Target:
    """Where ``invoke`` / ``fire`` run: the running local stack, an ephemeral one, or AWS."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.config = LocalConfig.from_env()
        self.stack = read_stack()
        self._ephemeral: aws.EmbeddedAws | None = None
        self.queues: dict[str, str] = {}
        """Queue URL → logical id (local only: whose messages ``invoke`` follows)."""
        if args.aws:
            import boto3

            resolver = aws.base_resolver(self.stack, self.config)
            cloudformation = boto3.client("cloudformation")
            described = cloudformation.describe_stacks(StackName=args.stack_name)["Stacks"][0]
            for parameter in described.get("Parameters", []):
                resolver.parameters[parameter["ParameterKey"]] = parameter["ParameterValue"]
            for resource in cloudformation.describe_stack_resources(StackName=args.stack_name)[
                "StackResources"
            ]:
                resolver.refs[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
            environment = {
                key: str(value)
                for spec in self.stack.functions.values()
                for key, value in resolver.resolve(spec.environment).items()
            }
            os.environ.update(environment)
        else:
            if aws.port_open(self.config.host, self.config.aws_port):
                # The running stack created everything; its names are deterministic.
                resolver = aws.name_resources(self.stack, self.config)
            else:
                self._ephemeral = aws.EmbeddedAws(self.config)
                self._ephemeral.start()
                print(
                    f"(no local stack running: started an ephemeral endpoint on {self.config.endpoint_url})",
                    file=sys.stderr,
                )
                resolver = aws.provision(self.stack, self.config)
            self.queues = {str(url): logical for logical, url in resolver.refs.items()}
            _apply_environment(aws.function_environment(self.stack, resolver, self.config))
        self.resolver = resolver
        self.functions = Functions(self.stack, self.config.region, self.config.function_concurrency)

    @property
    def ephemeral(self) -> bool:
        return self._ephemeral is not None

    def close(self) -> None:
        if self._ephemeral is not None:
            self._ephemeral.stop()


def _print(result: Any) -> None:
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))


def invoke(args: argparse.Namespace) -> int:
    event = json.loads(Path(args.event_file).read_text(encoding="utf-8"))
    target = _Target(args)
    try:
        if not args.keep_signature:
            _refresh_credentials(event, target.config)
        with contextlib.redirect_stdout(sys.stderr), sent_messages() as sent:  # logs; stdout: the result
            try:
                result = target.functions.invoke(args.function, event)
            except Exception as error:  # reported as Lambda reports a function error
                _print({"errorType": type(error).__name__, "errorMessage": str(error)})
                return 1
        _print(result)
        if not args.aws and not _report_downstream(target, sent, args.follow_seconds):
            return 2
    finally:
        target.close()
    return 0


def _report_downstream(target: _Target, sent: list[tuple[str, str]], timeout: float) -> bool:
    """Print (to stderr) what became of the queue messages the function sent; False if any of
    them failed in its consumer. With no local stack running nothing consumes them."""
    consumers = {mapping.queue: mapping.function for mapping in target.stack.queue_mappings}
    followed = [
        (target.queues.get(url, url), message_id)
        for url, message_id in sent
        if target.queues.get(url) in consumers
    ]
    if not followed:
        return True
    if target.ephemeral:
        for queue, message_id in followed:
            print(
                f"downstream: {queue} message {message_id} queued; no local stack consumes it",
                file=sys.stderr,
            )
        return True
    outcomes = OutcomeLog.of(target.config).wait([message_id for _, message_id in followed], timeout)
    healthy = True
    for queue, message_id in followed:
        outcome = outcomes[message_id]
        if outcome is None:
            print(
                f"downstream: {queue} message {message_id}: not consumed by {consumers[queue]} "
                f"within {timeout:g} s",
                file=sys.stderr,
            )
            continue
        healthy = healthy and outcome.ok
        print(f"downstream: {queue} → {outcome.describe()}", file=sys.stderr)
    return healthy


def fire(args: argparse.Namespace) -> int:
    target = _Target(args)
    try:
        schedules = [s for s in target.stack.schedules if s.function == args.function]
        if args.schedule:
            schedules = [s for s in schedules if s.name == args.schedule]
        if not schedules:
            raise SystemExit(f"{args.function} has no schedule in template.yaml")
        at = datetime.fromisoformat(args.at.replace("Z", "+00:00")) if args.at else datetime.now(UTC)
        event = scheduled_event(schedules[0], at, target.config.region, target.config.stack_name)
        with contextlib.redirect_stdout(sys.stderr):
            result = target.functions.invoke(args.function, event)
            if started_run(result) and not args.aws:
                report = _follow_run(target, args.function, result, args.follow_seconds)
                result = report.summary()
                if not report.complete:
                    shards = f"{report.shards_read} of {result['shards']} shards read"
                    entries = f"{report.items_done} of {report.items_sent} entries done"
                    print(
                        f"the run is not complete: {shards}, {entries}, {len(report.failed)} failed",
                        file=sys.stderr,
                    )
                    _print(result)
                    return 2
        _print(result)
    finally:
        target.close()
    return 0


def _follow_run(target: _Target, function: str, started: dict[str, Any], timeout: float) -> RunReport:
    """The whole fan-out of a run the function started: driven here when no stack consumes its
    work queue, followed through the running stack's outcomes otherwise."""
    mapping = next(m for m in target.stack.queue_mappings if m.function == function)
    if not target.ephemeral:
        return follow(OutcomeLog.of(target.config), started, timeout)
    url, arn = target.resolver.refs[mapping.queue], target.resolver.attributes[(mapping.queue, "Arn")]
    sqs = aws.client("sqs", target.config)
    return drive(target.functions, sqs, mapping, str(url), str(arn), target.config.region, started)


def token(args: argparse.Namespace) -> int:
    """Mint a development bearer token signed with the local tenant's API secret."""
    from incentives.core.access import Role, mint_token

    config = LocalConfig.from_env()
    minted = mint_token(
        config.api_jwt_secret,
        args.corp or config.corp_id,
        args.sub,
        Role(args.role),
        datetime.now(UTC),
        dept_ids=args.dept or [],
        ttl=timedelta(hours=args.hours),
    )
    print(minted)
    return 0


def demo(_: argparse.Namespace) -> int:
    """Create the state the sample events need on the running stack (see infra/local/demo.py)."""
    from infra.local.demo import main as demo_main

    config = LocalConfig.from_env()
    layer = str(ROOT / "layers" / "incentives" / "python")
    if layer not in sys.path:
        sys.path.insert(0, layer)
    return demo_main(config)


def routes(_: argparse.Namespace) -> int:
    stack = read_stack()
    for route in stack.routes:
        print(f"{route.method:6} {route.path}  -> {route.function}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole local stack").set_defaults(handler=run)
    commands.add_parser("routes", help="list the API routes of template.yaml").set_defaults(handler=routes)
    commands.add_parser(
        "demo", help="create on the running stack the state the sample events need"
    ).set_defaults(handler=demo)
    minting = commands.add_parser("token", help="mint a development bearer token")
    minting.add_argument("--role", choices=["admin", "operator", "guide", "affiliate"], default="admin")
    minting.add_argument("--sub", default="dev-admin", help="the subject: operator, guide or affiliate id")
    minting.add_argument("--dept", action="append", help="an operator's department id (repeatable)")
    minting.add_argument("--corp", help="tenant corp id (default WECOM_CORP_ID)")
    minting.add_argument("--hours", type=float, default=12, help="validity")
    minting.set_defaults(handler=token)
    for name, handler, help_text in (
        ("invoke", invoke, "run one function once on an event file"),
        ("fire", fire, "fire a function's schedule now (or at --at)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("function", help="logical id in template.yaml, e.g. OrderWebhookFunction")
        if name == "invoke":
            command.add_argument("event_file")
            command.add_argument(
                "--keep-signature",
                action="store_true",
                help="send signatures and bearer tokens as stored instead of refreshing them",
            )
            command.add_argument(
                "--follow-seconds",
                type=float,
                default=float(os.environ.get("LOCAL_INVOKE_FOLLOW_SECONDS", "10")),
                help="how long to wait for the running stack to consume the messages the function "
                "queued, reporting their outcome (exit 2 if one failed); default 10",
            )
        else:
            command.add_argument("--at", help="the schedule's time, RFC 3339 (default now)")
            command.add_argument(
                "--follow-seconds",
                type=float,
                default=float(os.environ.get("LOCAL_FIRE_FOLLOW_SECONDS", "120")),
                help="how long to wait for the running stack to finish the run a job function started "
                "(its shards and every due entry), reporting what it did (exit 2 if incomplete); default 120",
            )
            command.add_argument("--schedule", help="which schedule of the function (default its first)")
        command.add_argument("--aws", action="store_true", help="run against a deployed stack instead")
        command.add_argument("--stack-name", default="incentives", help="with --aws: the deployed stack")
        command.set_defaults(handler=handler)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOCAL_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
