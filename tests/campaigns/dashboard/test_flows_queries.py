"""The flows pages' query counts, pinned: they do not grow with the shop's sends and carts
(nor, for the list, with its flows' steps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import SendStatus
from campaigns.rollups import roll_up_recent
from retargeting.sites.services import add_member
from tests.factories import SendFactory, StepFactory

pytestmark = pytest.mark.django_db
# The list reads 30 days of figures: earlier days from the rollups, today live from the
# sends, taps and purchases (a fixed number of aggregates, whatever the shop's size).
LIST_QUERIES = 16
FLOW_QUERIES = 9


@pytest.fixture
def signed_in(client, site):
    user = User.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    client.force_login(user)
    return client


def grow(site, step, sends):
    now = timezone.now()
    for index in range(sends):
        SendFactory(
            step=step,
            cart__visitor__site=site,
            cart__last_change_at=now - timedelta(hours=3 + index),
            status=SendStatus.DELIVERED,
            sent_at=now - timedelta(hours=2 + index),
        )
    roll_up_recent()


def count(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_flows_list_count_does_not_grow(signed_in, site, django_assert_max_num_queries):
    step = StepFactory(flow__site=site)
    url = f"{reverse('dashboard-flows')}?site={site.pk}"
    grow(site, step, 1)
    small = count(signed_in, url)
    grow(site, step, 20)
    for position in (2, 3):
        StepFactory(flow=step.flow, position=position)
    StepFactory(flow__site=site)
    assert count(signed_in, url) == small
    with django_assert_max_num_queries(LIST_QUERIES):
        signed_in.get(url)


def test_the_flow_page_count_does_not_grow(signed_in, site, django_assert_max_num_queries):
    step = StepFactory(flow__site=site)
    url = f"{reverse('dashboard-flow', args=[step.flow.pk])}?site={site.pk}"
    grow(site, step, 1)
    small = count(signed_in, url)
    grow(site, step, 20)
    assert count(signed_in, url) == small
    with django_assert_max_num_queries(FLOW_QUERIES):
        signed_in.get(url)
