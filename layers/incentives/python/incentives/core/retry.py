"""The one retry policy for transient refusals (a transaction conflict): a bounded number of
attempts, each after an exponentially growing pause drawn with full jitter.

The step retried is the whole read-decide-write, not only its write: a write computed from a read
must be computed again from a fresh read (``docs/decisions.md``). Sleep and randomness are
injected, so the simulation and the benchmarks run it on simulated time and tests draw the jitter.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Full jitter (pause = uniform(0, min(cap, base × 2^retry))), at most ``attempts`` tries."""

    attempts: int = 16
    base_seconds: float = 0.01
    cap_seconds: float = 0.15
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def pause(self, retry: int) -> float:
        """The pause before retry number ``retry`` (0 for the first retry)."""
        return self.random() * min(self.cap_seconds, self.base_seconds * 2.0**retry)

    def run(self, step: Callable[[], T], retry_on: tuple[type[BaseException], ...]) -> T:
        """``step()``, tried again after a pause while it raises one of ``retry_on``; the last
        attempt's error propagates (for the queue to redeliver, then dead-letter)."""
        for retry in range(self.attempts - 1):
            try:
                return step()
            except retry_on:
                self.sleep(self.pause(retry))
        return step()
