"""Corrections: a conversion is never edited, it is excluded from the figures (or counted
again) by an admin action that writes who, when and why, and the figures say so."""

from __future__ import annotations

import csv
import html
import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse

from campaigns import figures
from campaigns.corrections import CorrectionError, correct_conversion
from campaigns.models import Conversion, ConversionCorrection
from campaigns.rollups import roll_up_recent
from retargeting.sites.services import add_member
from tests.campaigns.test_figures import NOW, data  # noqa: F401 - the known data set
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 10)
PERIOD = "start=2026-11-10&end=2026-11-10"
CHANGELIST = "admin:campaigns_conversion_changelist"


@pytest.fixture
def marketer(site):
    user = User.objects.create_user("marketer", password="x")
    add_member(site=site, user=user)
    return user


def _overview(client, site):
    return html.unescape(client.get(f"/dashboard/?site={site.pk}&{PERIOD}").content.decode())


def _correct(client, conversion, action, reason=None):
    body = {"action": action, "_selected_action": [conversion.pk]}
    if reason is not None:
        body["reason"] = reason
    return client.post(reverse(CHANGELIST), body)


def _revenue(site):
    funnel = figures.funnel(site=site, start=DAY, end=DAY)
    (day,) = figures.daily(site=site, start=DAY, end=DAY)
    per_step = sum(row.revenue for row in figures.by_step(site=site, start=DAY, end=DAY))
    return funnel.recovered_revenue, funnel.converted, day.revenue, per_step


@time_machine.travel(NOW, tick=False)
def test_excluding_a_conversion_takes_it_out_of_the_figures_with_who_when_and_why(
    client,
    marketer,
    site,
    data,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    roll_up_recent()
    client.force_login(marketer)
    assert _revenue(site) == (Decimal("150"), 2, Decimal("150"), Decimal("150"))
    page = _overview(client, site)
    assert 'id="recovered">150,00 €<' in page and 'id="corrections"' not in page
    order = Conversion.objects.get(order_id="o4")  # 100 € after a click

    # The action asks for a reason; without one nothing changes.
    asked = _correct(client, order, "exclude_from_figures")
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    blank = _correct(client, order, "exclude_from_figures", reason="   ")
    assert blank.status_code == 200 and blank.context["form"].errors["reason"]
    assert not ConversionCorrection.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = _correct(client, order, "exclude_from_figures", reason="Commande de test")
    assert done.status_code == 302
    correction = ConversionCorrection.objects.get()
    assert (
        correction.conversion,
        correction.kind,
        correction.reason,
        correction.user,
        correction.username,
        correction.created_at,
    ) == (order, "excluded", "Commande de test", marketer, "marketer", NOW)
    order.refresh_from_db()
    assert (order.total, order.attribution, order.counted) == (Decimal("100"), "clicked", False)
    assert _revenue(site) == (Decimal("50"), 1, Decimal("50"), Decimal("50"))
    # The dashboard (its rollups counted again on the correction) says what it leaves out.
    page = _overview(client, site)
    assert 'id="recovered">50,00 €<' in page
    assert "1 achat de cette période est exclu de ces chiffres par une correction" in page
    export = client.get(f"/dashboard/exports/conversions.csv?site={site.pk}&{PERIOD}")
    counted = {
        row["order_id"]: row["counted_in_figures"]
        for row in csv.DictReader(
            # In French, the export is cut by semicolons (French Excel splits them).
            io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig")),
            delimiter=";",
        )
    }
    assert counted == {"o3": "true", "o4": "false", "o5": "true", "o7": "true"}

    # Counted again, the same way: a second row, the figures back.
    with django_capture_on_commit_callbacks(execute=True):
        _correct(client, order, "count_in_figures_again", reason="C'était une vraie commande")
    assert list(ConversionCorrection.objects.values_list("kind", flat=True)) == [
        "excluded",
        "counted",
    ]
    assert _revenue(site) == (Decimal("150"), 2, Decimal("150"), Decimal("150"))
    page = _overview(client, site)
    assert 'id="recovered">150,00 €<' in page and 'id="corrections"' not in page


@time_machine.travel(NOW, tick=False)
def test_a_correction_needs_a_reason_and_changes_nothing_twice(site, data):  # noqa: F811
    order = Conversion.objects.get(order_id="o5")
    operator = User.objects.create_superuser("root", password="x")
    with pytest.raises(CorrectionError):
        correct_conversion(conversion_id=order.pk, kind="excluded", user=operator, reason=" ")
    assert Conversion.objects.get(pk=order.pk).counted
    assert correct_conversion(
        conversion_id=order.pk, kind="excluded", user=operator, reason="Doublon de o4"
    )
    # Already excluded: no second row, nothing changes.
    assert (
        correct_conversion(conversion_id=order.pk, kind="excluded", user=operator, reason="x")
        is None
    )
    assert ConversionCorrection.objects.count() == 1
    assert ConversionCorrection.objects.get().username == "root"


@time_machine.travel(NOW, tick=False)
def test_a_member_cannot_correct_another_shops_conversion(client, site, data):  # noqa: F811
    other_shop = SiteFactory(name="Shop B")
    stranger = User.objects.create_user("marketer-b", password="x")
    add_member(site=other_shop, user=stranger)
    client.force_login(stranger)
    order = Conversion.objects.get(order_id="o4")
    _correct(client, order, "exclude_from_figures", reason="Not mine")
    assert not ConversionCorrection.objects.exists()
    assert Conversion.objects.get(pk=order.pk).counted
    # Control: its own shop's member may.
    member = User.objects.create_user("marketer", password="x")
    add_member(site=site, user=member)
    client.force_login(member)
    assert _correct(client, order, "exclude_from_figures", reason="Test").status_code == 302
    assert ConversionCorrection.objects.get().username == "marketer"
