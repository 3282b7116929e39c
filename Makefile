# The two commands that matter: `make run` and `make test`. Both bootstrap .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test unit integration e2e simulate lint typecheck cfn-lint layers bench layer token invoke fire demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m infra.local run

# Two workers (one per core of a small machine); each test file runs whole on one worker, the
# end-to-end files together on one local stack (tests/conftest.py).
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup tests

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

# Many simulation seeds at once, outside the test timeout: make simulate SEEDS=2000
simulate: $(STAMP)
	$(PY) -m tests.simulation --seeds $(or $(SEEDS),2000)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

cfn-lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

# The layering contract of pyproject.toml ([tool.importlinter]; docs/decisions.md).
layers: $(STAMP)
	PYTHONPATH=layers/incentives/python $(VENV)/bin/lint-imports

# make invoke FUNCTION=OrderWebhookFunction EVENT=events/order_webhook/order_paid.json
invoke: $(STAMP)
	$(PY) -m infra.local invoke $(FUNCTION) $(EVENT)

# With `make run` going: the state the sample events need (an org, a Contact-Me code and its
# customer, guide incentive rules, an affiliate program with affiliates, a withdrawal, a payout).
demo: $(STAMP)
	$(PY) -m infra.local demo

# make fire FUNCTION=AfterSalesWindowFunction [AT=2026-12-01T00:00:00Z]
fire: $(STAMP)
	$(PY) -m infra.local fire $(FUNCTION) $(if $(AT),--at $(AT),)

# SPEC §6 budgets, measured side by side: cold starts and AWS round trips. Every benchmark runs
# and prints all its figures; the target fails at the end if any figure was over budget.
BENCHMARKS := bench.cold_start bench.round_trips bench.fanout bench.levels bench.listings bench.contention bench.throughput bench.org_sync
bench: $(STAMP)
	@over=""; \
	for benchmark in $(BENCHMARKS); do \
		$(PY) -m $$benchmark || over="$$over $$benchmark"; \
	done; \
	if [ -n "$$over" ]; then echo "over budget (or failed):$$over"; exit 1; fi

# The Lambda layer as `sam build` builds it (layers/incentives/Makefile), into build/layer.
layer:
	$(MAKE) -C layers/incentives/python -f ../Makefile build-IncentivesLayer ARTIFACTS_DIR=$(CURDIR)/build/layer
	@python3 -c 'import pathlib; size = sum(f.stat().st_size for f in pathlib.Path("build/layer").rglob("*") if f.is_file()); print(f"IncentivesLayer: {size / 2**20:.1f} MiB unzipped (Lambda: 250 MiB with the function)")'

# A development bearer token: make token ROLE=operator DEPT=2
token: $(STAMP)
	@$(PY) -m infra.local token --role $(or $(ROLE),admin) $(if $(DEPT),--dept $(DEPT),)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .import_linter_cache .local build .aws-sam
