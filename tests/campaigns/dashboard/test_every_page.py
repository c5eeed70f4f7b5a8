"""Every page of the marketer's app has a sample (tests/support/dashboard_pages.py) and opens
for a member in both languages: the tests that must see every page (translations, phones,
query counts) cannot miss a new one."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from campaigns.dashboard.urls import urlpatterns
from retargeting.sites.services import add_member
from tests.support.dashboard_pages import NOT_PAGES, PAGES, sample_shop

pytestmark = pytest.mark.django_db


def test_every_route_of_the_dashboard_is_a_sampled_page_or_named_as_not_one():
    names = {pattern.name for pattern in urlpatterns}
    assert names - set(PAGES) - NOT_PAGES == set()
    assert set(PAGES) - names == set()
    assert set(PAGES) & NOT_PAGES == set()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_opens_for_a_member(client, site, language):
    shop = sample_shop(site)
    user = User.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    client.force_login(user)
    client.cookies["django_language"] = language
    for name, page in PAGES.items():
        response = client.get(page(shop))
        assert response.status_code == 200, name
        assert response.headers["Content-Language"] == language, name
