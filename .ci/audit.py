"""`make audit`: known vulnerabilities in the locked dependencies (pip-audit).

Fails on any known vulnerability. pip-audit reads advisories from PyPI; a package it could not
look up is listed as not checked, and when none could be (no route to the advisory service),
this says so loudly rather than reporting "no known vulnerabilities".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "dev.txt"  # the production lock plus the tools


def main() -> int:
    done = subprocess.run(  # noqa: S603 (our own arguments)
        [
            str(Path(sys.executable).with_name("pip-audit")),
            "--require-hashes",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "-r",
            str(LOCK),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(done.stderr)
        return done.returncode or 1
    lines, code = summarise(report)
    print("\n".join(lines))
    return code


def summarise(report: dict) -> tuple[list[str], int]:
    """What to print for pip-audit's JSON report, and the exit code."""
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    checked = len(dependencies) - len(skipped)
    lines = []
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(
                f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} ({fixed})"
            )
    lines.append(
        f"audit: {checked} of {len(dependencies)} locked packages checked, "
        f"{len(vulnerable)} vulnerable"
    )
    if vulnerable:
        return lines, 1
    if skipped and not checked:
        lines.append(
            "audit: WARNING: the advisory service could not be reached from this machine; "
            "NO dependency was checked (run `make audit` where PyPI's JSON API is reachable)"
        )
    elif skipped:
        lines.append("audit: not checked: " + ", ".join(d["name"] for d in skipped))
    return lines, 0


if __name__ == "__main__":
    raise SystemExit(main())
