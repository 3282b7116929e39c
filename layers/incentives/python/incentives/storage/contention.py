"""DynamoDB's transaction conflicts, modelled for the in-memory table, on simulated time.

DynamoDB rejects a transaction that touches an item another transaction in flight holds (the
``TransactionConflict`` cancellation reason), and a single write on such an item. With
:class:`Contention`, :class:`~incentives.storage.memory_table.MemoryTable` does the same: each
write call holds its items for ``hold_seconds`` of simulated time before it commits, each read
takes ``read_seconds``, and a write that meets a held item raises
:class:`~incentives.storage.table.TransactionConflicted`.

:class:`SimulatedTime` runs many callers (threads) one at a time in simulated-time order, so a
run at 1,000 orders a second takes as long as the code takes, not the seconds it simulates, and
is the same on every run (given the same seeds).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Timeline(Protocol):
    def now(self) -> float:
        """Seconds since the start of the run."""
        ...

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass for the caller (others run meanwhile)."""
        ...


@dataclass(frozen=True)
class Contention:
    """How long a write call holds its items and a read takes, on ``timeline``."""

    timeline: Timeline
    hold_seconds: float = 0.005
    read_seconds: float = 0.002


class Sequential:
    """The timeline of a single caller: waiting moves time on (for contract tests)."""

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def wait(self, seconds: float) -> None:
        self._now += max(seconds, 0.0)


class _Turn:
    """One caller's place on the timeline."""

    def __init__(self, start: Callable[[], None] | None = None) -> None:
        self.start = start
        self.go = threading.Event()


class SimulatedTime:
    """A deterministic scheduler: callers run one at a time, the earliest in simulated time first.

    :meth:`at` schedules a call; :meth:`run` runs every call scheduled (and every one they
    schedule) to the end. A call that ``wait``\\ s gives the turn to the next earliest; a call that
    raises ends the run with that error. Outside a run (setting up, checking after), ``wait``
    returns at once.
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._queue: list[tuple[float, int, _Turn]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._failure: BaseException | None = None
        self._local = threading.local()

    def now(self) -> float:
        return self._now

    def at(self, when: float, call: Callable[[], None]) -> None:
        """Run ``call`` (on its own thread) when simulated time reaches ``when``."""
        with self._lock:
            heapq.heappush(self._queue, (max(when, self._now), next(self._order), _Turn(call)))

    def wait(self, seconds: float) -> None:
        turn = getattr(self._local, "turn", None)
        if turn is None:  # outside a run (setting up, checking after): no time passes
            return
        turn.go.clear()
        with self._lock:
            heapq.heappush(self._queue, (self._now + max(seconds, 0.0), next(self._order), turn))
        self._next()
        turn.go.wait()

    def run(self) -> None:
        """Run every scheduled call to its end; re-raise the first error one raised."""
        self._idle.clear()
        self._next()
        self._idle.wait()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _next(self) -> None:
        """Give the turn to the earliest caller (starting its thread if it has not begun)."""
        with self._lock:
            if not self._queue or self._failure is not None:
                self._idle.set()
                return
            self._now, _, turn = heapq.heappop(self._queue)
        if turn.start is not None:
            call, turn.start = turn.start, None
            threading.Thread(target=self._begin, args=(turn, call), daemon=True).start()
        else:
            turn.go.set()

    def _begin(self, turn: _Turn, call: Callable[[], None]) -> None:
        self._local.turn = turn
        try:
            call()
        except BaseException as error:
            self._failure = error
        self._next()
