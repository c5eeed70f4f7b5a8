"""Access to the servers some tests need, and the rule for when they are missing.

When ``CI`` is set a missing server is a failure, never a skip: CI exists to run those tests.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require_server(name: str, variable: str) -> str:
    """The URL of a server from ``variable``; fail in CI when unset, skip elsewhere."""
    url = os.environ.get(variable, "")
    if url:
        return url
    missing(f"{name} is needed: set {variable} (CI sets it; .ci/run starts the server)")


def missing(message: str) -> NoReturn:
    """Something a test needs is not on this machine: a failure in CI, a skip elsewhere."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)  # outside CI only: `make test` passes on a machine without servers
