"""EventBridge schedules of the template (``rate(...)`` and ``cron(...)``, UTC), fired locally."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from infra.local.config import ACCOUNT_ID
from infra.local.lambdas import Functions
from infra.local.template import Schedule

log = logging.getLogger("local.scheduler")

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def aws_cron_to_standard(expression: str) -> str:
    """AWS cron (min hour day-of-month month day-of-week year) → 5-field cron for croniter.

    AWS numbers weekdays 1-7 from Sunday and uses ``?`` for "no value"; the year field must
    be ``*`` locally (a year-bounded schedule is not emulated).
    """
    fields = expression.split()
    if len(fields) != 6:
        raise ValueError(f"AWS cron needs 6 fields: {expression!r}")
    minute, hour, day, month, weekday, year = fields
    if year != "*":
        raise ValueError(f"year-bounded cron is not emulated locally: {expression!r}")
    day = "*" if day == "?" else day
    if weekday == "?":
        weekday = "*"
    else:
        weekday = re.sub(r"\d", lambda m: str((int(m.group()) - 1) % 7), weekday)
    return f"{minute} {hour} {day} {month} {weekday}"


def next_fire(expression: str, after: datetime) -> datetime:
    """The first firing strictly after ``after`` (UTC)."""
    rate = _RATE.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        return after + timedelta(seconds=amount * _UNIT_SECONDS[unit])
    if expression.startswith("cron(") and expression.endswith(")"):
        iterator = croniter(aws_cron_to_standard(expression[5:-1]), after.astimezone(UTC))
        result: datetime = iterator.get_next(datetime)
        return result.astimezone(UTC)
    raise ValueError(f"unsupported schedule expression {expression!r}")


def scheduled_event(schedule: Schedule, at: datetime, region: str, stack_name: str) -> dict[str, Any]:
    """The event EventBridge sends for a scheduled rule."""
    rule = f"{stack_name}-{schedule.function}{schedule.name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


class Scheduler:
    def __init__(self, schedules: list[Schedule], functions: Functions, region: str, stack_name: str) -> None:
        self._schedules = [schedule for schedule in schedules if schedule.enabled]
        self._functions = functions
        self._region = region
        self._stack_name = stack_name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def fire(self, schedule: Schedule, at: datetime) -> Any:
        event = scheduled_event(schedule, at, self._region, self._stack_name)
        log.info("firing %s.%s at %s", schedule.function, schedule.name, event["time"])
        return self._functions.invoke(schedule.function, event)

    def _loop(self) -> None:
        now = datetime.now(UTC)
        due = {schedule: next_fire(schedule.expression, now) for schedule in self._schedules}
        while not self._stop.is_set():
            now = datetime.now(UTC)
            for schedule, when in due.items():
                if when <= now:
                    try:
                        self.fire(schedule, when)
                    except Exception:
                        log.exception("%s failed", schedule.function)
                    due[schedule] = next_fire(schedule.expression, now)
            self._stop.wait(1.0)
