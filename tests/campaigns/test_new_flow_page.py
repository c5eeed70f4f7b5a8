"""The admin's "new flow from a trigger" (issue 32, "Deliver" 7: "the same in the dashboard"):
it offers exactly the registry's offered triggers, each with its default delay and texts in
the site's language, and makes the flow chosen as ``manage.py add_flow`` does."""

from __future__ import annotations

import pytest

from campaigns.default_texts import default_texts
from campaigns.flows import default_template
from campaigns.models import Flow, StepChannel, Trigger
from campaigns.trigger_registry import ROOMS, offered, trigger_room
from retargeting.sites.models import Language
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
PAGE = "/admin/campaigns/flow/from-trigger/"


def test_the_page_offers_exactly_the_offered_triggers_with_their_texts(admin_client, site):
    site.language = Language.EN
    site.save()
    assert f'href="{PAGE}"' in admin_client.get("/admin/campaigns/flow/").content.decode()
    page = admin_client.get(PAGE, {"site": site.pk})
    assert page.status_code == 200
    shown = [row["name"] for row in page.context["triggers"]]
    assert shown == list(offered()) and Trigger.WELCOME in shown
    html = page.content.decode()
    for name in offered():
        assert f'data-trigger="{name}"' in html
        row = next(row for row in page.context["triggers"] if row["name"] == name)
        assert row["sms"] == default_template(site=site, trigger=name)
        assert row["delay"] == trigger_room(name).default_delay_minutes
    for name in Trigger.values:
        if name not in offered():
            assert f'data-trigger="{name}"' not in html  # not built, or made by a request


def test_choosing_a_trigger_makes_its_active_flow_with_the_default_texts(admin_client):
    site = SiteFactory(language=Language.FR)
    response = admin_client.post(
        PAGE, {"site": site.pk, "trigger": Trigger.WELCOME, "channel": StepChannel.SMS_ELSE_EMAIL}
    )
    flow = Flow.objects.get(site=site)
    assert response.status_code == 302 and response["Location"].endswith(
        f"/admin/campaigns/flow/{flow.pk}/change/"
    )
    step = flow.steps.get()
    texts = default_texts(Trigger.WELCOME, Language.FR)
    assert (flow.trigger, flow.is_active, flow.name) == (Trigger.WELCOME, True, "Bienvenue")
    assert step.template == default_template(site=site, trigger=Trigger.WELCOME)
    assert (step.subject, step.delay_minutes) == (texts.subject, 5)


def test_a_trigger_not_offered_is_refused_and_nothing_is_made(admin_client, site):
    refused = [name for name in Trigger.values if name not in ROOMS] + [Trigger.EMAIL_CART]
    for name in refused:
        response = admin_client.post(
            PAGE, {"site": site.pk, "trigger": name, "channel": StepChannel.SMS}
        )
        assert response.status_code == 400 and "trigger" in response.context["form"].errors
    assert not Flow.objects.exists()
    # Control: an offered one, with a delay of its own.
    response = admin_client.post(
        PAGE,
        {
            "site": site.pk,
            "trigger": Trigger.CART_ABANDONED,
            "channel": StepChannel.SMS,
            "delay_minutes": 45,
        },
    )
    assert response.status_code == 302
    assert Flow.objects.get().steps.get().delay_minutes == 45
