"""Numbers, money and times as each language writes them, in the shop's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import translation

from campaigns.dashboard import formatting
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

NNBSP = "\u202f"


def test_french_groups_with_a_narrow_space_and_writes_a_decimal_comma():
    with translation.override("fr"):
        assert formatting.number(1234567.891, 1) == f"1{NNBSP}234{NNBSP}567,9"
        assert formatting.percent(0.125) == "12,5\u00a0%"
        assert formatting.money(Decimal("49.85")) == "49,85 €"
    with translation.override("en"):
        assert formatting.number(1234567.891, 1) == "1,234,567.9"
        assert formatting.percent(0.125) == "12.5%"
        assert formatting.money(Decimal("49.85")) == "€49.85"
    assert formatting.percent(None) == "–"


def test_times_are_the_shops_own_24_hour_with_its_zone_named():
    site = SiteFactory(time_zone="Europe/Paris")
    afternoon = datetime(2026, 12, 7, 13, 51, tzinfo=UTC)  # 14:51 in Paris (winter: UTC+1)
    with translation.override("fr"):
        assert formatting.when(afternoon, site=site) == "7 déc. 2026, 14:51"
        assert formatting.zone_label(site) == "heure de Paris"
    with translation.override("en"):
        assert formatting.when(afternoon, site=site) == "7 Dec. 2026, 14:51"
        assert formatting.clock(afternoon, site=site) == "14:51"
        assert formatting.zone_label(site) == "Paris time"


def test_a_moment_ago_never_reads_zero_minutes():
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with translation.override("fr"):
        assert formatting.ago(now - timedelta(seconds=20), now=now) == "à l'instant"
        assert formatting.ago(now - timedelta(minutes=1), now=now) == "il y a 1 minute"
        assert formatting.ago(now - timedelta(hours=3), now=now) == "il y a 3 heures"
        assert formatting.ago(now - timedelta(days=3), now=now) == "il y a 3 jours"
    with translation.override("en"):
        assert formatting.ago(now - timedelta(minutes=5), now=now) == "5 minutes ago"
