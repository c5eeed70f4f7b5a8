"""The layers of ARCHITECTURE.md: retargeting <- optin <- campaigns, never upward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The project package's wiring may name the higher layers (settings, URLs, Celery).
WIRING = {"retargeting/settings.py", "retargeting/urls.py", "retargeting/celery.py"}
FORBIDDEN = {"retargeting": {"optin", "campaigns"}, "optin": {"campaigns"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def layer_files(layer: str) -> list[Path]:
    return [
        path
        for path in (ROOT / layer).rglob("*.py")
        if "migrations" not in path.parts and str(path.relative_to(ROOT)) not in WIRING
    ]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_a_higher_one(layer):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in layer_files(layer)
        if imported_packages(path) & FORBIDDEN[layer]
    }
    assert offenders == {}


def test_the_check_sees_an_upward_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom campaigns.models import Send\n")
    assert "campaigns" in imported_packages(sample)
