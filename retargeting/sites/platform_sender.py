"""The platform's default sender: the From of a site that has no sender of its own.

The configured SMS provider knows it (``Gateway.default_sender()``); the gateways layer, which
imports this one, registers it when Django starts (``retargeting.gateways.apps``), so that a
site never names a provider's setting.
"""

from __future__ import annotations

from collections.abc import Callable

_source: list[Callable[[], str]] = []


def register(source: Callable[[], str]) -> None:
    """Make ``source`` the one that names the platform's default sender."""
    _source[:] = [source]


def default_sender() -> str:
    """The configured provider's default sender; empty when it has none."""
    return _source[0]() if _source else ""
