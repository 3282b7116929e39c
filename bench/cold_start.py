"""Cold start per function: import + init time, against what the same imports cost without our code.

SPEC §6: each function's import + init ≤ 1.3 × that of a bare handler importing Powertools +
boto3 + pydantic — "what our own code adds on top of the unavoidable". For each function
this measures, in fresh interpreters (start-up excluded), side by side and alternating:

- the function: loading its handler module as Lambda does (the layer and, as the working
  directory, the function's folder on the path: its own modules count as ours);
- its baseline: importing exactly the third-party and standard-library modules that the
  function ended up loading (Powertools utilities, boto3, pydantic, …), none of our code;
- SPEC §6's bare handler, ``bench/baseline_handler.py``: the Powertools logger, boto3 and
  pydantic, nothing more — the budget's baseline;
- beside it, for reference only, ``bench/baseline_full_handler.py``: a handler that also loads
  the REST resolver, Swagger, batch, idempotency and parser utilities (measured against it, a
  function would look cheaper than it is).

Beside each function's figure, the same interpreter's import + init + first event for the
functions whose first event validates our inbound contract (``FIRST_EVENTS``: the event
processor's queued events, the order webhook's bodies, from ``events/<function>/``): our models'
validators are built on first use (``defer_build``), so what leaves the import and lands on
the first event is printed, not hidden.

Every interpreter runs with the deployed defaults: tracing as the template's ``TraceSubsegments``
sets it (off: Lambda's active tracing, no X-Ray SDK in the function; decision 150).

The budget: each function ≤ 1.3 × the bare handler. The ratio function / same imports (what our
own modules add to the third-party code the function loads) is printed too, and ``libs/bare``:
the function's third-party imports alone against the bare handler — above 1.3 the libraries the
function is built on (Powertools' validating resolver, its batch utility, pydantic's model
machinery) are over budget before any of our code runs (decision 159). Prints medians and
ratios for every function, then exits 1 if any is over budget.

Each figure is the CPU time of the interpreter doing the import (``time.process_time``), not
wall-clock time: on a shared machine other processes stretch wall-clock figures by whatever
they happen to run at that moment, while the CPU work of an import stays put. Before
measuring, our layer and handlers are compiled to bytecode, as pip compiled the third-party
packages when it installed them, so neither side pays for compiling source the other does
not (interpreters started with ``PYTHONDONTWRITEBYTECODE`` never cache our modules).

    python -m bench.cold_start [--rounds 7] [--function NAME ...]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "incentives" / "python"
BUDGET = 1.3

LOAD_HANDLER = """
import importlib.util, json, sys, time
sys.path.insert(0, {layer!r})
before = set(sys.modules)
started = time.process_time()
spec = importlib.util.spec_from_file_location("handler_module", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
getattr(module, "lambda_handler")
elapsed = time.process_time() - started
ours = ("incentives", "handler_module")
own = lambda name: (getattr(sys.modules[name], "__file__", None) or "").startswith({folder!r})
loaded = [name for name in sys.modules if name not in before and not name.startswith(ours) and not own(name)]
validated = 0
exec({first_event!r})
first_event = time.process_time() - started
answer = {{"seconds": elapsed, "first_event": first_event, "validated": validated, "modules": loaded}}
print(json.dumps(answer))
"""

EVENTS = ROOT / "events"
FIRST_EVENTS = {
    "EventProcessorFunction": f"""
import glob, json
from incentives.events.claim_check import queued_message
for name in sorted(glob.glob({str(EVENTS / "event_processor" / "*.json")!r})):
    with open(name, encoding="utf-8") as sample:
        for record in json.load(sample)["Records"]:
            queued_message.validate_json(record["body"])
            validated += 1
""",
    "OrderWebhookFunction": f"""
import glob, json
from incentives.events.intake import parse_webhook_event
for name in sorted(glob.glob({str(EVENTS / "order_webhook" / "*.json")!r})):
    with open(name, encoding="utf-8") as sample:
        parse_webhook_event(json.load(sample)["body"].encode())
        validated += 1
""",
}
"""What each function's first event validates with our models (its ``events/`` samples), run
right after the import in the same interpreter: validators deferred to first use show here."""

IMPORT_ONLY = """
import importlib, json, sys, time
names = json.loads(sys.stdin.read())
started = time.process_time()
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        pass
print(json.dumps({"seconds": time.process_time() - started, "modules": []}))
"""


@cache
def _environment() -> dict[str, str]:
    """The deployed default: our X-Ray subsegments as the template's ``TraceSubsegments`` defaults."""
    from infra.local.template import read_stack

    return {
        **os.environ,
        "TRACE_SUBSEGMENTS": str(read_stack().parameter_defaults()["TraceSubsegments"]),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
    }


def load_handler(path: Path, first_event: str = "") -> tuple[float, list[str], float]:
    """CPU seconds of import + init, the modules loaded, and CPU seconds up to the first event's end."""
    script = LOAD_HANDLER.format(
        layer=str(LAYER), path=str(path), folder=str(path.parent) + os.sep, first_event=first_event
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=_environment(),
        check=True,
        cwd=path.parent,
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    if first_event and not answer["validated"]:  # a first event that validated nothing measures nothing
        raise SystemExit(f"{path}: its first event validated no sample of events/")
    return float(answer["seconds"]), list(answer["modules"]), float(answer["first_event"])


def import_only(modules: list[str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ONLY],
        input=json.dumps(modules),
        capture_output=True,
        text=True,
        env=_environment(),
        check=True,
        cwd=ROOT / "bench",
    )
    return float(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])


def compile_our_code() -> None:
    """Bytecode for our layer and handlers, like the bytecode pip wrote for the installed packages."""
    for folder in (LAYER / "incentives", ROOT / "functions", ROOT / "bench"):
        compileall.compile_dir(folder, quiet=1, force=False)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--function", action="append", default=[], help="measure only this function (repeatable)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from infra.local.template import read_stack

    stack = read_stack()
    functions = {
        name: spec.code_uri / f"{spec.handler.split('.')[0]}.py"
        for name, spec in stack.functions.items()
        if not args.function or name in args.function
    }
    unknown = set(args.function) - set(functions)
    if unknown:
        parser.error(f"not functions of template.yaml: {sorted(unknown)}")
    compile_our_code()
    bare = ROOT / "bench" / "baseline_handler.py"
    full = ROOT / "bench" / "baseline_full_handler.py"
    modules = {name: load_handler(path)[1] for name, path in functions.items()}  # also warms caches
    load_handler(bare)
    load_handler(full)
    own: dict[str, list[float]] = {name: [] for name in functions}
    first: dict[str, list[float]] = {name: [] for name in functions}
    third_party: dict[str, list[float]] = {name: [] for name in functions}
    bare_times: list[float] = []
    full_times: list[float] = []
    for _ in range(args.rounds):
        bare_times.append(load_handler(bare)[0])
        full_times.append(load_handler(full)[0])
        for name, path in functions.items():
            seconds, _, first_event = load_handler(path, FIRST_EVENTS.get(name, ""))
            own[name].append(seconds)
            first[name].append(first_event)
            third_party[name].append(import_only(modules[name]))
    reference, heavier = statistics.median(bare_times), statistics.median(full_times)
    print(
        f"cold start (import + init, CPU time), median of {args.rounds} fresh interpreters each;"
        f" budget {BUDGET:.1f} x the bare handler"
    )
    print(
        f"bare handler (SPEC §6: Powertools logger + boto3 + pydantic): {reference * 1000:.0f} ms"
        "  (the budget's baseline)"
    )
    print(
        f"full-utilities handler (resolver, Swagger, batch, idempotency, parser): {heavier * 1000:.0f} ms"
        f"  = {heavier / reference:.2f} x bare (reference only)"
    )
    header = (
        f"{'function':26} {'ms':>7} {'+1st event':>10} {'same imports ms':>16} {'ratio':>6}"
        f" {'libs/bare':>9} {'vs bare':>8} {'vs full':>8}"
    )
    print(f"{header}  verdict (vs bare ≤ {BUDGET:.1f})")
    over, over_alone = [], []
    for name in functions:
        mine, theirs = statistics.median(own[name]), statistics.median(third_party[name])
        ratio, versus_bare, versus_full = mine / theirs, mine / reference, mine / heavier
        libraries = theirs / reference
        if versus_bare > BUDGET:
            over.append(name)
        if libraries > BUDGET:
            over_alone.append(name)
        verdict = "ok" if versus_bare <= BUDGET else "OVER BUDGET"
        first_event = (
            f"{statistics.median(first[name]) * 1000:10.1f}" if name in FIRST_EVENTS else f"{'-':>10}"
        )
        print(
            f"{name:26} {mine * 1000:7.1f} {first_event} {theirs * 1000:16.1f} {ratio:6.2f}"
            f" {libraries:9.2f} {versus_bare:8.2f} {versus_full:8.2f}  {verdict}"
        )
    if over:
        print(f"over budget: {', '.join(over)}")
        ours = [name for name in over if name not in over_alone]
        print(
            f"  of which over budget on the third-party imports alone (libs/bare > {BUDGET:.1f}, before"
            f" any of our code): {len(over_alone)} of {len(over)}"
            + (f"; over only with our code: {', '.join(ours)}" if ours else "")
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
