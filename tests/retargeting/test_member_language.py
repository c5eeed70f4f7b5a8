"""A member sees the admin and the dashboard in their first shop's language, for their own
requests only: the thread that served them serves others afterwards in the default."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import translation

from retargeting.sites.services import add_member
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def test_a_french_members_page_is_french_and_leaves_the_thread_in_the_default(client):
    user = User.objects.create_user("marie", password="x")
    add_member(site=SiteFactory(language="fr"), user=user)
    client.force_login(user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    assert translation.get_language() == "en"
    # Control: an English shop's member gets English.
    other = User.objects.create_user("mary", password="x")
    add_member(site=SiteFactory(language="en"), user=other)
    client.force_login(other)
    assert client.get("/dashboard/")["Content-Language"] == "en"
