"""`make install`'s progress: pip installs the locked requirements while this says how far
it got, instead of a minute or two of silence (pip's own output is a screenful per package).

Run by the virtualenv's Python before anything is installed in it (the standard library only):
``python retargeting/install.py requirements/dev.txt``. On a terminal one line counts up in
place; elsewhere (a log, CI) a line every quarter. pip's whole output is shown if it fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

# A locked requirement's first line: "name==version" or "name[extra]==version".
REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],]*==", re.MULTILINE)


def count_requirements(path: Path) -> int:
    return len(REQUIREMENT.findall(path.read_text()))


def follow(command: Sequence[str], *, total: int, out: TextIO) -> int:
    """Run pip's ``command``, telling ``out`` how many of ``total`` packages it has reached;
    return its exit code (its whole output written to ``out`` when not 0)."""
    live = out.isatty()
    out.write(
        f"Installing the locked dependencies ({total} packages, 1–2 minutes the first time)…\n"
    )
    out.flush()
    seen = 0
    shown = 0
    open_line = False  # a terminal's counting line not ended yet
    kept: list[str] = []
    process = subprocess.Popen(  # noqa: S603
        list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        kept.append(line)
        if line.startswith("Collecting "):
            seen = min(seen + 1, total)
            if live:
                out.write(f"\r  {seen}/{total} packages fetched")
                open_line = True
            elif seen - shown >= max(1, total // 4):
                shown = seen
                out.write(f"  {seen}/{total} packages fetched\n")
        elif line.startswith("Installing collected packages"):
            out.write(("\n" if open_line else "") + "  installing them…\n")
            open_line = False
        out.flush()
    code = process.wait()
    if open_line:
        out.write("\n")
    if code:
        out.write("".join(kept))
        out.write(f"make: installing the dependencies failed (pip exit code {code})\n")
    else:
        out.write("done\n")
    out.flush()
    return code


def main(argv: Sequence[str]) -> int:
    requirements = Path(argv[0])
    command = [
        sys.executable,
        *("-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"),
        *("--require-hashes", "-r", str(requirements)),
    ]
    return follow(command, total=count_requirements(requirements), out=sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
