"""Builds the layer as `sam build` does (its Makefile target, wheels fetched from the package index)
and checks what lands in it: our package, every third-party module our code imports, boto3 with
the botocore it requires, native code for the functions' architecture, nothing test-only, and an
unzipped size within Lambda's limit."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support import ROOT

LAYER_SOURCE = ROOT / "layers" / "incentives" / "python"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + layers, unzipped
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # e_machine: EM_AARCH64, EM_X86_64


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("IncentivesLayer")
    subprocess.run(
        ["make", "-s", "-C", str(LAYER_SOURCE), "-f", "../Makefile", "build-IncentivesLayer"],
        env={**os.environ, "ARTIFACTS_DIR": str(artifacts), "PYTHON": sys.executable},
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return artifacts / "python"


def _distributions(layer: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for info in layer.glob("*.dist-info"):
        metadata = Parser().parsestr((info / "METADATA").read_text(encoding="utf-8"), headersonly=True)
        found[canonicalize_name(metadata["Name"])] = info
    return found


def _version(info: Path) -> Version:
    metadata = Parser().parsestr((info / "METADATA").read_text(encoding="utf-8"), headersonly=True)
    return Version(metadata["Version"])


def _runtime_imports() -> set[str]:
    """Top-level modules imported by the functions and the layer, outside ``if TYPE_CHECKING:``."""
    sources = [*LAYER_SOURCE.glob("incentives/**/*.py"), *ROOT.glob("functions/*/**/*.py")]
    shipped_with_functions = {path.stem for path in ROOT.glob("functions/*/*") if path.suffix in {"", ".py"}}
    names: set[str] = set()
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        skipped = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
            for statement in block.body
            for node in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "incentives"} - shipped_with_functions


def test_the_layer_carries_our_package_and_every_module_it_imports(layer: Path) -> None:
    for source in LAYER_SOURCE.glob("incentives/**/*.py"):
        assert (layer / source.relative_to(LAYER_SOURCE)).is_file(), source
    imported = _runtime_imports()
    assert {"aws_lambda_powertools", "boto3", "botocore", "pydantic", "jwt"} <= imported  # the scan works
    missing = {name for name in imported if not ((layer / name).is_dir() or (layer / f"{name}.py").is_file())}
    assert not missing, f"imported by our code, absent from the layer: {sorted(missing)}"


def test_boto3_ships_with_the_botocore_it_requires(layer: Path) -> None:
    distributions = _distributions(layer)
    assert {"boto3", "botocore"} <= set(distributions), "botocore alone mismatches the runtime's boto3"
    metadata = (distributions["boto3"] / "METADATA").read_text(encoding="utf-8")
    requires = [
        Requirement(line[len("Requires-Dist:") :])
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    wanted = next(each for each in requires if canonicalize_name(each.name) == "botocore")
    assert wanted.specifier.contains(_version(distributions["botocore"]))


def test_the_layer_holds_what_requirements_ask_and_nothing_test_only(layer: Path) -> None:
    distributions = _distributions(layer)
    requirements = [
        Requirement(line.split("#", 1)[0])
        for line in (LAYER_SOURCE / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    ]
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in distributions, name
        assert requirement.specifier.contains(_version(distributions[name])), name
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = project["optional-dependencies"]["dev"]
    test_only = {canonicalize_name(Requirement(text).name) for text in dev} & set(distributions)
    assert not test_only, f"test-only packages in the layer: {sorted(test_only)}"


def test_native_code_is_for_the_functions_architecture(layer: Path) -> None:
    from infra.local.template import read_stack

    (architecture,) = read_stack().document["Globals"]["Function"]["Architectures"]
    libraries = list(layer.rglob("*.so"))
    assert libraries, "pydantic_core and cryptography ship native code"
    for library in libraries:
        header = library.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", library
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE[architecture], library
        assert "cpython-311" not in library.name, library  # built for the runtime's 3.12, not this Python


def test_the_unzipped_layer_fits_lambdas_limit(layer: Path) -> None:
    size = sum(path.stat().st_size for path in layer.rglob("*") if path.is_file())
    print(f"\nIncentivesLayer unzipped: {size / 1024 / 1024:.1f} MiB")
    assert size < LAMBDA_UNZIPPED_LIMIT, f"{size / 1024 / 1024:.1f} MiB"
