"""IANA's zone table (zone.tab, shipped by tzdata): which country each time zone belongs to."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def _table() -> tuple[tuple[str, str], ...]:
    """(country, zone) rows, in the file's order: each country's principal zone first."""
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _coordinates, zone, *_ = line.split("\t")
            rows.append((country, zone))
    return tuple(rows)


@functools.cache
def principal_zone(country: str) -> str:
    """A country's principal time zone, UTC when it has none."""
    return next((zone for code, zone in _table() if code == country.upper()), "UTC")


@functools.cache
def zone_country(zone: str) -> str:
    """The country a time zone belongs to, or an empty string."""
    return next((code for code, name in _table() if name == zone), "")
