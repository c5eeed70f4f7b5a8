"""`make audit` fails on a known vulnerability and never calls unchecked packages safe."""

from __future__ import annotations

import importlib.util

from tests.support.processes import ROOT

spec = importlib.util.spec_from_file_location("audit", ROOT / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def dependency(name, vulns=(), skip_reason=None):
    entry = {"name": name, "version": "1.0", "vulns": list(vulns)}
    if skip_reason:
        entry["skip_reason"] = skip_reason
    return entry


def test_a_known_vulnerability_fails_the_audit_and_is_named():
    vuln = {"id": "PYSEC-2026-1", "fix_versions": ["1.0.1"]}
    lines, code = audit.summarise(
        {"dependencies": [dependency("django", [vuln]), dependency("celery")]}
    )
    assert code == 1
    assert "VULNERABLE django 1.0: PYSEC-2026-1 (1.0.1)" in lines
    assert "audit: 2 of 2 locked packages checked, 1 vulnerable" in lines


def test_a_clean_report_passes():
    lines, code = audit.summarise({"dependencies": [dependency("django")]})
    assert (code, lines) == (0, ["audit: 1 of 1 locked packages checked, 0 vulnerable"])


def test_nothing_checked_is_said_loudly_not_reported_as_clean():
    skipped = "Dependency not found on PyPI and could not be audited"
    lines, code = audit.summarise({"dependencies": [dependency("django", skip_reason=skipped)]})
    assert code == 0
    assert lines[0] == "audit: 0 of 1 locked packages checked, 0 vulnerable"
    assert "NO dependency was checked" in lines[1]


def test_packages_not_checked_are_named():
    skipped = "Dependency not found on PyPI and could not be audited"
    lines, _ = audit.summarise(
        {"dependencies": [dependency("django"), dependency("yarl", skip_reason=skipped)]}
    )
    assert lines[-1] == "audit: not checked: yarl"
