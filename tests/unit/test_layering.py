"""The layering contract of pyproject.toml (``[tool.importlinter]``), run as ``make layers`` and in CI.

The first test runs the contract as ``lint-imports`` does: the code keeps it. The others put one
forbidden import into the real import graph and check that the contract is then broken, so a
contract that stops seeing a kind of violation fails here. (A check removes the contract's
ignored imports from the graph it is given: each test checks a graph of its own, once.)
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter.adapters.user_options import TomlFileUserOptionReader
from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
KINDS: dict[str, type[Contract]] = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
    "acyclic_siblings": AcyclicSiblingsContract,
}


def _contract(contract_id: str) -> Contract:
    """One contract of pyproject.toml, read as ``lint-imports`` reads it."""
    options = TomlFileUserOptionReader().read_options(config_filename=str(PYPROJECT))
    assert options is not None
    (raw,) = (contract for contract in options.contracts_options if contract["id"] == contract_id)
    return KINDS[raw["type"]](raw["name"], options.session_options, raw)


@pytest.fixture
def graph() -> grimp.ImportGraph:
    """The real import graph, built afresh: a test may add an import to it."""
    return grimp.build_graph("incentives", include_external_packages=True, cache_dir=None)


def test_the_code_keeps_the_layering_contract() -> None:
    """What ``lint-imports`` reports is printed with the failure."""
    assert lint_imports(str(PYPROJECT), no_cache=True, no_logo=True) == EXIT_STATUS_SUCCESS


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("incentives.ledger.postings", "incentives.storage.ledger"),  # a domain module reads storage
        ("incentives.orders.aggregate", "incentives.api.errors"),  # … or the HTTP layer
        ("incentives.api.app", "incentives.runtime.settings"),  # a library reaches the composition root
        ("incentives.core.money", "incentives.ledger.model"),  # the core leans on a domain area
        ("incentives.webhook.models", "incentives.messages.internal"),  # the contract on internals
    ],
)
def test_an_upward_import_breaks_the_layers(graph: grimp.ImportGraph, importer: str, imported: str) -> None:
    contract = _contract("layers")
    graph.add_import(importer=importer, imported=imported)
    assert not contract.check(graph, verbose=False).kept


def test_a_domain_module_importing_boto3_breaks_the_contract(graph: grimp.ImportGraph) -> None:
    contract = _contract("no-aws-sdk-in-the-domain")
    graph.add_import(importer="incentives.payouts.pipeline", imported="boto3")
    assert not contract.check(graph, verbose=False).kept


def test_two_areas_importing_each_other_break_the_contract(graph: grimp.ImportGraph) -> None:
    """Within the domain layer areas may import each other, but never round in a circle."""
    contract = _contract("no-package-circles")
    graph.add_import(importer="incentives.levels.metrics", imported="incentives.affiliates.binding")
    assert not contract.check(graph, verbose=False).kept
