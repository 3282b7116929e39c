"""The layer's requirements agree with pyproject.toml, and carry the AWS SDK as a matched pair.

On Lambda the layer (/opt/python) comes before the runtime's own boto3 and botocore on the path:
a layer with botocore and without boto3 makes the runtime's boto3 run on a botocore of another
release (docs/decisions.md). tests/integration/test_layer_build.py builds the layer and checks what
lands in it.
"""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.local.template import ROOT, read_stack

LAYER_REQUIREMENTS = ROOT / "layers" / "incentives" / "python" / "requirements.txt"
SDK = {"boto3", "botocore"}


def layer_requirements() -> dict[str, Requirement]:
    lines = LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    parsed = [Requirement(line) for line in (line.split("#", 1)[0].strip() for line in lines) if line]
    return {canonicalize_name(requirement.name): requirement for requirement in parsed}


def project_dependencies() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    parsed = [Requirement(text) for text in project["dependencies"]]
    return {canonicalize_name(requirement.name): requirement for requirement in parsed}


def pinned_version(requirement: Requirement) -> str:
    (specifier,) = requirement.specifier
    assert specifier.operator == "==", f"{requirement} is not pinned"
    return specifier.version


def test_the_layer_requires_what_pyproject_declares() -> None:
    layer, project = layer_requirements(), project_dependencies()
    assert set(layer) == set(project), "requirements.txt and pyproject.toml name different packages"
    for name, requirement in layer.items():
        assert requirement.extras == project[name].extras, name
        if name in SDK:
            assert project[name].specifier.contains(pinned_version(requirement)), name
        else:
            assert requirement.specifier == project[name].specifier, name


def test_boto3_and_botocore_ship_together_at_one_release() -> None:
    """boto3 X.Y.Z requires botocore >=X.Y.Z,<X.(Y+1): one release number pins a matching pair."""
    layer = layer_requirements()
    assert set(layer) >= SDK, "the layer must carry both boto3 and botocore, or neither"
    assert pinned_version(layer["boto3"]) == pinned_version(layer["botocore"])


def test_the_layer_is_built_by_its_makefile_for_the_functions_architecture() -> None:
    stack = read_stack()
    (layer_name,) = stack.resources_of("AWS::Serverless::LayerVersion")
    layer = stack.document["Resources"][layer_name]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / layer["Metadata"]["ContextPath"] / "Makefile").read_text(encoding="utf-8")
    assert f"build-{layer_name}:" in makefile
    architectures = {"arm64": "aarch64", "x86_64": "x86_64"}
    (architecture,) = stack.document["Globals"]["Function"]["Architectures"]
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    assert f"LAMBDA_PLATFORM ?= manylinux2014_{architectures[architecture]}" in makefile
    runtime = stack.document["Globals"]["Function"]["Runtime"]
    assert f"LAMBDA_PYTHON_VERSION ?= {runtime.removeprefix('python')}" in makefile
