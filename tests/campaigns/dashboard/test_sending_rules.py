"""The shop's sending rules as form fields (issue 33, Deliver 1): quiet hours (the legal
default explained, custom hours per weekday instead of JSON, none), the frequency cap and the
staleness limit, saved from the dashboard and read back by the rule itself."""

from __future__ import annotations

import html
from datetime import UTC, datetime, time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns.quiet_hours import Recipient, is_open, policy_for
from retargeting.sites.forms import SendingRulesForm, WeeklyHoursWidget
from retargeting.sites.models import QuietHours, Site
from retargeting.sites.services import add_member

pytestmark = pytest.mark.django_db
DAYS = 7


@pytest.fixture
def signed_in(client, site):
    user = User.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    client.force_login(user)
    return client


def page(site):
    return f"{reverse('dashboard-sending-rules')}?site={site.pk}"


def posted(site, *, quiet_hours, hours=None, holidays=False, **changes):
    """The form as the browser posts it: ``hours`` maps a weekday (0 is Monday) to times."""
    data = {
        "quiet_hours": quiet_hours,
        "email_quiet_hours": "on",
        "cap_per_24h": str(site.cap_per_24h),
        "cap_per_7d": str(site.cap_per_7d),
        "stale_after_hours": str(site.stale_after_hours),
    }
    for day in range(DAYS):
        opens, closes = (hours or {}).get(day, ("", ""))
        data[f"quiet_hours_custom_{2 * day}"] = opens
        data[f"quiet_hours_custom_{2 * day + 1}"] = closes
    if holidays:
        data[f"quiet_hours_custom_{2 * DAYS}"] = "on"
    data.update(changes)
    return data


def test_the_legal_default_is_chosen_and_explained(signed_in, site):
    assert site.quiet_hours == QuietHours.FR_STRICT
    response = signed_in.get(page(site))
    shown = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert '<option value="fr_strict" selected>' in shown
    assert "réglage légal par défaut" in shown
    assert "du lundi au samedi seulement, de 08:00 à 20:00, jamais le dimanche" in shown
    assert 'type="time"' in shown and "<textarea" not in shown
    assert 'data-label="Ouvre à"' in shown


def test_custom_hours_round_trip(signed_in, site):
    hours = {0: ("09:00", "19:00"), 1: ("09:00", "19:00"), 5: ("10:00", "18:00")}
    response = signed_in.post(page(site), posted(site, quiet_hours="custom", hours=hours))
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.quiet_hours == QuietHours.CUSTOM
    assert site.quiet_hours_custom == {
        "windows": [
            {"days": ["mon", "tue"], "start": "09:00", "end": "19:00"},
            {"days": ["sat"], "start": "10:00", "end": "18:00"},
        ],
        "holidays": False,
    }
    # The rule reads what was saved: Saturday 17:59 open, 18:00 closed; Sunday closed.
    who = Recipient(zones=(site.zone_info,), country="FR")
    policy = policy_for(site, who)
    assert is_open(datetime(2026, 12, 5, 16, 59, tzinfo=UTC), policy=policy, who=who)
    assert not is_open(datetime(2026, 12, 5, 17, 0, tzinfo=UTC), policy=policy, who=who)
    assert not is_open(datetime(2026, 12, 6, 12, 0, tzinfo=UTC), policy=policy, who=who)
    # Shown again as typed.
    shown = signed_in.get(page(site)).content.decode()
    assert 'name="quiet_hours_custom_0" value="09:00"' in shown
    assert 'name="quiet_hours_custom_11" value="18:00"' in shown
    assert 'name="quiet_hours_custom_12" step="60"' in shown  # Sunday: empty


def test_the_widget_reads_a_setting_written_as_json_before():
    stored = {"windows": [{"days": ["fri"], "start": "22:00", "end": "02:00"}], "holidays": True}
    values = WeeklyHoursWidget().decompress(stored)
    assert values[8:10] == [time(22), time(2)] and values[-1] is True
    assert values[:8] == [None] * 8


def test_no_quiet_hours(signed_in, site):
    response = signed_in.post(page(site), posted(site, quiet_hours="none"))
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.quiet_hours == QuietHours.NONE and site.quiet_hours_custom == {}


@pytest.mark.parametrize(
    ("hours", "error"),
    [
        ({}, "Le réglage personnalisé"),  # custom without a window: the model's own rule
        ({2: ("09:00", "")}, "mercredi : indiquez l'heure d'ouverture et celle de fermeture"),
        ({2: ("09:00", "09:00")}, "identiques"),
    ],
)
def test_wrong_custom_hours_are_refused_and_nothing_changes(signed_in, site, hours, error):
    response = signed_in.post(page(site), posted(site, quiet_hours="custom", hours=hours))
    assert response.status_code == 400
    assert error in html.unescape(response.content.decode())
    site.refresh_from_db()
    assert site.quiet_hours == QuietHours.FR_STRICT


def test_cap_and_staleness(signed_in, site):
    response = signed_in.post(
        page(site),
        posted(
            site, quiet_hours="fr_strict", cap_per_24h="2", cap_per_7d="5", stale_after_hours="24"
        ),
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.cap_per_24h, site.cap_per_7d, site.stale_after_hours) == (2, 5, 24)
    refused = signed_in.post(
        page(site), posted(site, quiet_hours="fr_strict", stale_after_hours="0")
    )
    assert refused.status_code == 400
    site.refresh_from_db()
    assert site.stale_after_hours == 24


def test_the_admin_saves_custom_hours_from_the_same_fields(site):
    operator = User.objects.create_superuser("operator", password="pass-word-123")
    client = Client()
    client.force_login(operator)
    url = reverse("admin:sites_site_change", args=[site.pk])
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if name in ("quiet_hours_custom",) or value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = __import__("json").dumps(value)
        else:
            data[name] = str(value)
    data.update(posted(site, quiet_hours="custom", hours={4: ("22:00", "02:00")}))
    data.update({"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    site = Site.objects.get(pk=site.pk)
    assert site.quiet_hours_custom == {
        "windows": [{"days": ["fri"], "start": "22:00", "end": "02:00"}],
        "holidays": False,
    }


def test_the_form_refuses_what_the_model_refuses(site):
    form = SendingRulesForm(
        posted(site, quiet_hours="fr_strict", cap_per_24h="4", cap_per_7d="2"), instance=site
    )
    assert not form.is_valid()
    assert form.errors["__all__"] == ["The cap over 7 days must be at least the cap over 24 hours."]
