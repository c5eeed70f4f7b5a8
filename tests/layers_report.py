"""The packages of Relance and the arrows between them: ``python -m tests.layers_report``.

A package is a folder of Python modules (``campaigns/dashboard/``, ``retargeting/sms/``); an
arrow ``a -> b`` says that a module of ``a`` imports one of ``b``. The project's wiring
(``retargeting/settings.py``, ``urls.py``, ``celery.py``, ``wsgi.py``, ``asgi.py``) names
every layer on purpose and is left out. The report ends with the circles it found, if any
(exit status 1); ``tests/test_layers.py`` runs the same check in ``make test``.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("retargeting", "optin", "campaigns")
WIRING = {
    "retargeting/settings.py",
    "retargeting/urls.py",
    "retargeting/celery.py",
    "retargeting/wsgi.py",
    "retargeting/asgi.py",
}


def modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and str(path.relative_to(ROOT)) not in WIRING
    )


def package_of_path(path: Path) -> str:
    """The dotted package a module belongs to (its folder; management commands belong to
    their app's package)."""
    parts = list(path.relative_to(ROOT).parent.parts)
    if "management" in parts:
        parts = parts[: parts.index("management")]
    return ".".join(parts)


def known_packages() -> set[str]:
    return {package_of_path(path) for path in modules()}


def package_of_module(name: str, packages: set[str]) -> str | None:
    """The package of a dotted module name (``campaigns.dashboard.views`` → its folder)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in packages:
            return candidate
        parts.pop()
    return None


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    packages = known_packages()
    arrows: dict[str, set[str]] = defaultdict(set)
    for path in modules():
        source = package_of_path(path)
        arrows.setdefault(source, set())
        for name in imports_of(path):
            target = package_of_module(name, packages)
            if target is not None and target != source:
                arrows[source].add(target)
    return dict(arrows)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def module_graph() -> dict[str, set[str]]:
    """The same arrows between modules (an import inside a function counts too)."""
    paths = {module_name(path): path for path in modules()}
    arrows: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets = set()
        for imported in imports_of(path):
            parts = imported.split(".")
            while parts and ".".join(parts) not in paths:
                parts.pop()
            if parts and ".".join(parts) != name:
                targets.add(".".join(parts))
        arrows[name] = targets
    return arrows


def circles(arrows: dict[str, set[str]]) -> list[list[str]]:
    """Every circle among the packages, each as the list of packages on it."""
    found: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(arrows.get(node, ())):
            if nxt == start:
                key = tuple(sorted(path))
                if key not in seen:
                    seen.add(key)
                    found.append([*path, start])
            elif nxt not in path and nxt > start:
                walk(start, nxt, [*path, nxt])

    for start in sorted(arrows):
        walk(start, start, [start])
    return found


def main() -> int:
    arrows = graph()
    for package in sorted(arrows):
        targets = ", ".join(sorted(arrows[package])) or "-"
        print(f"{package:<24} -> {targets}")
    found = circles(arrows) + circles(module_graph())
    print()
    if not found:
        print("no circle, between packages or between modules")
        return 0
    for circle in found:
        print("circle: " + " -> ".join(circle))
    return 1


if __name__ == "__main__":
    sys.exit(main())
