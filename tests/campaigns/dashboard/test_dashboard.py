"""The marketer's dashboard: who sees what, and the figures it shows."""

from __future__ import annotations

import html

import pytest
import time_machine
from django.contrib.auth.models import User

from campaigns.rollups import roll_up_recent
from retargeting.sites.services import add_member
from tests.campaigns.test_figures import NOW, data  # noqa: F401 - the known data set
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
PERIOD = "start=2026-11-10&end=2026-11-10"


@pytest.fixture
def marketer(site):
    user = User.objects.create_user("marketer", password="x", is_staff=True)
    add_member(site=site, user=user)
    return user


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@time_machine.travel(NOW, tick=False)
def test_a_marketer_sees_their_sites_figures(client, marketer, site, data):  # noqa: F811
    client.force_login(marketer)
    page = html.unescape(client.get(f"/dashboard/?site={site.pk}&{PERIOD}").content.decode())
    assert "jour précédent de cette période n'est pas encore compté" in page
    roll_up_recent()  # the first five-minute run after an install rolls up the whole history
    page = html.unescape(client.get(f"/dashboard/?site={site.pk}&{PERIOD}").content.decode())
    assert "Chiffres du 23 nov. 2026, 13:00 (heure de Paris) ; les trois derniers" in page
    assert "pas encore compté" not in page
    assert 'id="recovered">150,00 €<' in page
    assert "<svg" in page and "Messages envoyés (par jour)" in page
    assert "30,00 €" in page  # after delivery, shown apart
    for stage, label, count in (
        ("abandoned", "Paniers abandonnés", 10),
        ("sent", "Envoyés", 6),
        ("clicked", "Cliqués", 3),
    ):
        assert f'data-stage="{stage}" data-count="{count}"><span>{label}' in page


def test_another_sites_dashboard_is_a_404_for_a_marketer(client, marketer):
    other = SiteFactory()
    client.force_login(marketer)
    assert client.get(f"/dashboard/?site={other.pk}").status_code == 404
    assert client.get("/dashboard/?site=not-a-number").status_code == 404
    page = client.get("/dashboard/").content.decode()
    assert other.name not in page


def test_a_user_without_sites_is_told_so(client):
    user = User.objects.create_user("nobody", password="x")
    client.force_login(user)
    page = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "not a member of any shop" in page


def test_a_superuser_sees_every_site(client, site):
    other = SiteFactory()
    admin = User.objects.create_superuser("root", password="x")
    client.force_login(admin)
    assert client.get(f"/dashboard/?site={other.pk}").status_code == 200
    page = client.get("/dashboard/").content.decode()
    assert site.name in page and other.name in page


def test_a_reversed_or_malformed_period_is_read_sensibly(client, marketer, site):
    client.force_login(marketer)
    page = client.get(f"/dashboard/?site={site.pk}&start=2026-11-20&end=2026-11-01").content
    assert b'value="2026-11-01"' in page and b'value="2026-11-20"' in page
    assert client.get(f"/dashboard/?site={site.pk}&start=garbage").status_code == 200
