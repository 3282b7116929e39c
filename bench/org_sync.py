"""Organization sync memory at a brand's peak: bytes per guide, and the guides 128 MB holds (SPEC §6).

    python -m bench.org_sync [--guides 10000 100000]

For each size, builds a tenant of ``--guides`` guides in outlets of 10 (one guide in 20 is in two
outlets) on the in-memory table: a first sync reads them per outlet (names included), a welcome
message is set on one guide in 10. Then WeCom changes (1% of the guides move to another outlet,
1% leave, 1% join) and a daily sync runs over ``user/list_id`` pages (no names: stored names are
kept), measured with tracemalloc: its peak is what the sync holds, WeCom's pages, the table's
answers and its writes included (the fake WeCom answers each page as freshly parsed JSON, as the
client does). Checks the result (written and removed counts, names and welcome messages kept).

Prints the peak per guide and, with the process's own baseline (the interpreter and the
handler's imports), how many guides fit in a 128 MB function; exits 1 if fewer than
``--budget`` (100,000) do, or if the result is wrong.

Then one ``change_contact`` ``update_user`` event (a guide with a welcome message moves to another
outlet): its table reads (round trips, and the stored guides they hand over) and its peak; exits 1
if the reads grow with the number of guides (they read the departments and that one guide) or the
move is not stored (decision 154).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "incentives" / "python"))

CORP = "bench-org"
FUNCTION_MB = 128
"""The sync function's memory (SPEC §6: handler memory within 128 MB)."""
PER_OUTLET = 10
REGIONS = 20
NOW = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


class BenchWeCom:
    """WeCom's directory for the sync: ``department/list``, ``user/list_id`` (cursor pages, or
    refused with 48002 while ``list_id_granted`` is False) and ``user/simplelist``. Each answer is
    JSON encoded and parsed again, so the sync holds fresh objects as it does from the client."""

    def __init__(self, guides: int) -> None:
        self.corp_id = CORP
        outlets = -(-guides // PER_OUTLET)
        self.departments_list = [{"id": 1, "name": "品牌", "parentid": 0}]
        self.departments_list += [{"id": 10 + r, "name": f"大区{r}", "parentid": 1} for r in range(REGIONS)]
        self.departments_list += [
            {"id": 1000 + o, "name": f"门店{o}", "parentid": 10 + o % REGIONS} for o in range(outlets)
        ]
        self.users: dict[str, list[int]] = {}
        for n in range(guides):
            outlet = 1000 + n // PER_OUTLET
            self.users[f"guide-{n:07d}"] = (
                [outlet, 1000 + (n // PER_OUTLET + 1) % outlets] if n % 20 == 0 else [outlet]
            )
        self.list_id_granted = True
        self._pairs: list[tuple[str, int]] = []
        self._members: dict[int, list[dict[str, Any]]] = {}
        self.prepare()

    def prepare(self) -> None:
        """The pages and outlet lists as WeCom keeps them (built before anything is measured)."""
        self._pairs = [(user, dept) for user in sorted(self.users) for dept in self.users[user]]
        self._members = {}
        for user, depts in self.users.items():
            for dept in depts:
                self._members.setdefault(dept, []).append(
                    {"userid": user, "name": _name(user), "department": depts}
                )

    @staticmethod
    def _answer(value: Any) -> Any:
        return json.loads(json.dumps(value))

    def departments(self) -> list[dict[str, Any]]:
        return list(self._answer(self.departments_list))

    def member_ids(self, cursor: str = "", limit: int = 10_000) -> tuple[list[dict[str, Any]], str]:
        from incentives.wecom.client import WeComApiError

        if not self.list_id_granted:
            raise WeComApiError(48002, "api forbidden", "/cgi-bin/user/list_id")
        start = int(cursor or 0)
        end = start + limit
        page = [{"userid": user, "department": dept} for user, dept in self._pairs[start:end]]
        return self._answer(page), str(end) if end < len(self._pairs) else ""

    def department_members(self, department_id: int) -> list[dict[str, Any]]:
        return list(self._answer(self._members.get(department_id, [])))

    def member(self, user_id: str) -> dict[str, Any]:
        """``user/get``."""
        answer = {"userid": user_id, "name": _name(user_id), "department": self.users[user_id]}
        return dict(self._answer(answer))


def _name(user_id: str) -> str:
    return "导购" + user_id.removeprefix("guide-")


def _rss_mb() -> float:
    """The process's peak resident memory so far, in MiB: Linux's ``VmHWM`` (this program's own;
    ``ru_maxrss`` keeps a larger parent's peak across fork and exec), else ``ru_maxrss`` (KiB)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _counting_table() -> Any:
    from tests.support.org import ReadCountingTable

    return ReadCountingTable()


@dataclass(frozen=True)
class Event:
    """One ``update_user`` event measured: the table's read round trips (those of the departments,
    the others) and the stored guides they read."""

    department_reads: int
    other_reads: int
    guides_read: int
    peak: int
    right: bool


def measure(guides: int) -> tuple[int, bool, Event]:
    """Build a tenant of ``guides``, change 3% of it in WeCom, sync it measured: (peak bytes, right),
    then one member's event measured."""
    from incentives.org.service import sync_organization
    from incentives.storage.org import TableOrgRepository

    started = time.perf_counter()
    table = _counting_table()
    repo, wecom = TableOrgRepository(table), BenchWeCom(guides)
    wecom.list_id_granted = False  # the first sync reads per outlet: names are stored
    first = sync_organization(repo, wecom, NOW)  # type: ignore[arg-type]
    for n in range(0, guides, 10):
        repo.set_guide_welcome(CORP, f"guide-{n:07d}", f"欢迎{n}")
    outlets = first.outlets
    step = 100
    moved = [f"guide-{n:07d}" for n in range(1, guides, step)]
    left = [f"guide-{n:07d}" for n in range(2, guides, step)]
    joined = [f"guide-{guides + n:07d}" for n in range(len(left))]
    for user in moved:
        wecom.users[user] = [1000 + (int(user[-7:]) // PER_OUTLET + outlets // 2) % outlets]
    for user in left:
        del wecom.users[user]
    for n, user in enumerate(joined):
        wecom.users[user] = [1000 + n % outlets]
    wecom.list_id_granted = True
    wecom.prepare()
    print(
        f"org sync: built {guides:,} guides in {outlets:,} outlets in {time.perf_counter() - started:.1f} s"
    )

    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    result = sync_organization(repo, wecom, NOW)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    stored = repo.guides(CORP)
    kept = all(
        stored[f"guide-{n:07d}"].get("name") == _name(f"guide-{n:07d}")
        and stored[f"guide-{n:07d}"].get("welcome_message") == f"欢迎{n}"
        for n in range(0, guides, 10)
        if f"guide-{n:07d}" in stored
    )
    right = (
        result.written == len(moved) + len(joined)
        and result.removed == len(left)
        and result.guides == len(stored) == guides
        and kept
        and all(stored[user]["outlet_ids"] == [str(wecom.users[user][0])] for user in moved)
    )
    print(
        f"org sync: {guides:,} guides, {result.written:,} written, {result.removed:,} removed, "
        f"names and welcome messages kept: {'yes' if kept else 'NO'}; peak {peak / 2**20:.1f} MiB = "
        f"{peak / guides:,.0f} B per guide, {elapsed:.1f} s locally"
    )
    if not right:
        print(f"org sync: WRONG result at {guides:,} guides: {result}")
    del stored
    return peak, right, measure_event(table, repo, wecom, guides)


def measure_event(table: Any, repo: Any, wecom: BenchWeCom, guides: int) -> Event:
    """One ``update_user`` event: a guide with a welcome message moves to the next outlet."""
    from incentives.org.service import apply_contact_change

    user = "guide-0000030"  # one outlet, a welcome message
    outlet = 1000 + (30 // PER_OUTLET + 1)
    wecom.users[user] = [outlet]
    gc.collect()
    table.reset()
    tracemalloc.start()
    started = time.perf_counter()
    detail = apply_contact_change(repo, wecom, "update_user", user, "", NOW)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    department_reads, guides_read = table.department_reads, table.guides_read
    other_reads = table.reads - department_reads
    guide = repo.guide(CORP, user) or {}
    right = (
        detail == "change_contact update_user: 1 written, 0 removed"
        and guide.get("outlet_ids") == [str(outlet)]
        and guide.get("welcome_message") == "欢迎30"
        and guide.get("name") == _name(user)
    )
    print(
        f"org change event: one update_user at {guides:,} guides: the {len(wecom.departments_list):,} "
        f"departments in {department_reads} read(s), {guides_read:,} stored guide(s) in {other_reads} "
        f"read(s); peak {peak / 2**20:.1f} MiB, {elapsed * 1000:.0f} ms locally; the move stored, "
        f"welcome message kept: {'yes' if right else 'NO'}"
    )
    return Event(department_reads, other_reads, guides_read, peak, right)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guides", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--budget", type=int, default=100_000, help="guides a 128 MB function must hold")
    options = parser.parse_args(argv)

    import aws_lambda_powertools  # noqa: F401  (the handler's imports: part of the baseline)
    import boto3  # noqa: F401

    import incentives.org.service
    import incentives.storage.dynamo_table  # noqa: F401

    baseline = _rss_mb()
    print(f"org sync: process baseline (interpreter and the handler's imports) {baseline:.0f} MiB")
    sizes = sorted(options.guides)
    peaks, events, right = {}, {}, True
    for guides in sizes:
        peaks[guides], correct, events[guides] = measure(guides)
        right = right and correct and events[guides].right
    largest = sizes[-1]
    per_guide = peaks[largest] / largest
    if len(sizes) > 1:  # the slope between the smallest and largest size: fixed costs apart
        per_guide = max(1.0, (peaks[largest] - peaks[sizes[0]]) / (largest - sizes[0]))
    fixed = max(0.0, peaks[largest] - per_guide * largest)
    room = (FUNCTION_MB * 2**20) - baseline * 2**20 - fixed
    ceiling = int(room / per_guide)
    within = ceiling >= options.budget
    print(
        f"org sync: {per_guide:,.0f} B per guide (+{fixed / 2**20:.1f} MiB fixed) over a {baseline:.0f} MiB "
        f"baseline: {FUNCTION_MB} MB holds {ceiling:,} guides — budget ≥ {options.budget:,} "
        f"{'ok' if within else 'OVER BUDGET'}"
    )
    same = len({(event.other_reads, event.guides_read) for event in events.values()}) == 1
    steady = same and all(event.guides_read <= 1 for event in events.values())
    print(
        f"org change event: update_user reads {events[largest].guides_read:,} stored guide(s) in "
        f"{events[largest].other_reads} round trip(s) besides the departments at every size "
        f"({', '.join(f'{g:,}' for g in sizes)} guides) — budget: independent of the number of guides "
        f"{'ok' if steady else 'OVER BUDGET'}"
    )
    return 0 if within and right and steady else 1


if __name__ == "__main__":
    raise SystemExit(main())
