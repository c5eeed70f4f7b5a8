"""The layers of ARCHITECTURE.md: retargeting <- optin <- campaigns, never upward; the engine
never imports its pages; no circle (``python -m tests.layers_report`` prints the arrows)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import layers_report

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


# The engine and the pages: a folder of pages may use its app, never the reverse.
PAGES = {
    "campaigns": ("campaigns.dashboard", "campaigns.customer"),
    "optin": ("optin.pages",),
    "retargeting": ("retargeting.demoshop",),
}


def _page_free_files(app: str) -> list[Path]:
    pages = [ROOT / package.replace(".", "/") for package in PAGES[app]]
    return [
        path for path in layer_files(app) if not any(folder in path.parents for folder in pages)
    ]


@pytest.mark.parametrize("app", sorted(PAGES))
def test_the_engine_never_imports_its_pages(app):
    offenders = {}
    for path in _page_free_files(app):
        names = layers_report.imports_of(path)
        bad = sorted(name for name in names if any(name.startswith(page) for page in PAGES[app]))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def string_labels(path: Path) -> set[str]:
    """App labels named in strings: ``"campaigns.Send"``, ``apps.get_model("optin", ...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            label = re.fullmatch(r"(optin|campaigns)\.[A-Z]\w*", node.value)
            if label:
                found.add(label.group(1))
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "get_model"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in ("optin", "campaigns")
        ):
            found.add(node.args[0].value)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_names_a_higher_ones_models_in_a_string(layer):
    offenders = {
        str(path.relative_to(ROOT)): sorted(string_labels(path) & FORBIDDEN[layer])
        for path in layer_files(layer)
        if string_labels(path) & FORBIDDEN[layer]
    }
    assert offenders == {}


def test_the_check_sees_a_model_named_in_a_string(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'from django.apps import apps\nfk = "campaigns.Send"\napps.get_model("optin", "Contact")\n'
    )
    assert string_labels(sample) == {"campaigns", "optin"}


def test_no_circle_between_packages_or_modules():
    assert layers_report.circles(layers_report.graph()) == []
    assert layers_report.circles(layers_report.module_graph()) == []


def test_the_circle_check_finds_one():
    arrows = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert layers_report.circles(arrows) == [["a", "b", "c", "a"]]


@pytest.mark.slow
def test_the_report_runs_as_a_command():
    result = subprocess.run(
        [sys.executable, "-m", "tests.layers_report"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "campaigns.dashboard" in result.stdout and "no circle" in result.stdout


def test_the_map_in_docs_development_matches_the_tree():
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    mapped = {line.split()[0].rstrip("/") for line in block.splitlines() if line.strip()}
    packages = {
        str(init.parent.relative_to(ROOT))
        for app in layers_report.APPS
        for init in (ROOT / app).rglob("__init__.py")
        if not {"migrations", "management", "commands"} & set(init.parent.parts)
    }
    assert packages <= mapped, "a package the map does not name"
    assert all((ROOT / name).exists() for name in mapped), "the map names a folder that is gone"
