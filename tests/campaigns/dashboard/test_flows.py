"""Flows in the dashboard (issue 33, Deliver 1): the list, a new flow from each offered
trigger, a flow's page saved with the admin's own checks, activate/pause, steps added and
removed, another shop's flow not found, CSRF; the admin and the dashboard linked both ways."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.dashboard.flows import delay_words
from campaigns.flows import default_template
from campaigns.models import Flow, SendStatus, Step, StepChannel
from campaigns.rollups import roll_up_recent
from campaigns.trigger_registry import offered
from retargeting.sites.models import Language
from retargeting.sites.services import add_member
from tests.factories import SendFactory, SiteFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(site):
    user = User.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    return user


@pytest.fixture
def signed_in(client, member):
    client.force_login(member)
    return client


def at(name, site, *args):
    return f"{reverse(name, args=args or None)}?site={site.pk}"


def step_data(step, **changes):
    """The flow page's form as the browser posts it, for a flow of one step."""
    flow = step.flow
    data = {
        "name": flow.name,
        "holdout_percent": str(flow.holdout_percent),
        "min_cart_total": "",
        "max_segments": str(flow.max_segments),
        "link_url": flow.link_url,
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": str(step.pk),
        "steps-0-flow": str(flow.pk),
        "steps-0-delay_minutes": str(step.delay_minutes),
        "steps-0-channel": step.channel,
        "steps-0-template": step.template,
        "steps-0-subject": step.subject,
        "steps-0-email_template": step.email_template,
        "steps-0-discount_mode": step.discount_mode,
        "steps-0-discount_code": step.discount_code,
        "steps-0-pool_fallback": step.pool_fallback,
    }
    if flow.transliterate:
        data["transliterate"] = "on"
    data.update(changes)
    return data


# --- The findings, reproduced -------------------------------------------------------------


def test_the_dashboards_flows_tab_is_the_dashboards_own_page_not_the_admin(signed_in, site):
    overview = signed_in.get(at("dashboard", site)).content.decode()
    assert f'href="{reverse("dashboard-flows")}?site={site.pk}"' in overview
    assert f'href="{reverse("admin:campaigns_flow_changelist")}' not in overview


def test_the_admin_links_back_to_the_dashboard(signed_in, site):
    index = signed_in.get("/admin/").content.decode()
    assert f'<a href="{reverse("dashboard")}" id="dashboard-link">' in index
    flow = StepFactory(flow__site=site).flow
    change = signed_in.get(reverse("admin:campaigns_flow_change", args=[flow.pk])).content.decode()
    assert f'href="{at("dashboard-flow", site, flow.pk)}"' in change
    page = signed_in.get(at("dashboard-flow", site, flow.pk)).content.decode()
    assert f'href="{reverse("admin:campaigns_flow_change", args=[flow.pk])}"' in page


def test_custom_quiet_hours_are_no_longer_typed_as_json_in_the_admin(site):
    operator = User.objects.create_superuser("operator", password="pass-word-123")
    client = Client()
    client.force_login(operator)
    html = client.get(reverse("admin:sites_site_change", args=[site.pk])).content.decode()
    assert '<textarea name="quiet_hours_custom"' not in html
    assert 'type="time" name="quiet_hours_custom_0"' in html
    # The presets are explained beside the choice.
    assert "Monday to Saturday, 08:00–20:00" in html


# --- The list -----------------------------------------------------------------------------


def test_the_list_shows_every_flow_with_its_trigger_channels_state_and_30_days(signed_in, site):
    cart_step = StepFactory(flow__site=site, flow__name="Paniers", channel=StepChannel.SMS)
    StepFactory(flow=cart_step.flow, position=2, channel=StepChannel.EMAIL)
    paused = StepFactory(flow__site=site, flow__name="Zz en pause", flow__is_active=False).flow
    now = timezone.now()
    for days_ago in (1, 2, 40):  # the one 40 days ago is outside the 30 days
        SendFactory(
            step=cart_step,
            cart__visitor__site=site,
            cart__last_change_at=now - timedelta(days=days_ago, hours=1),
            status=SendStatus.DELIVERED,
            sent_at=now - timedelta(days=days_ago),
        )
    roll_up_recent()
    other = StepFactory(flow__site=SiteFactory(), flow__name="Another shop's").flow

    response = signed_in.get(at("dashboard-flows", site))
    html = response.content.decode()
    assert response.status_code == 200
    rows = {row["flow"].pk: row for row in response.context["rows"]}
    assert set(rows) == {cart_step.flow.pk, paused.pk}
    assert other.name not in html
    cart = rows[cart_step.flow.pk]
    assert cart["trigger"] == "Panier abandonné"
    assert cart["channels"] == "SMS, Email"
    assert cart["sent"] == "2"
    # The same figure the overview's table per flow shows (one source, not a re-count).
    overview = signed_in.get(at("dashboard", site)).context["flows"]
    assert next(r for r in overview if r["row"].flow.pk == cart_step.flow.pk)["row"].sent == 2
    assert 'class="badge wait">En pause' in html and 'class="badge ok">Actif' in html
    assert f'href="{at("dashboard-flow-new", site)}"' in html
    assert 'data-label="Envoyés"' in html


def test_a_transactional_flow_shows_transactional_not_a_revenue(signed_in, site):
    StepFactory(flow__site=site, flow__trigger="order_confirmation")
    row = signed_in.get(at("dashboard-flows", site)).context["rows"][0]
    assert row["revenue"] == "transactionnel"


# --- A new flow -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", [Language.FR, Language.EN])
def test_a_flow_is_made_from_each_offered_trigger_with_its_default_texts(client, language):
    site = SiteFactory(language=language)
    user = User.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    client.force_login(user)
    page = client.get(at("dashboard-flow-new", site))
    assert [offer["name"] for offer in page.context["offers"]] == list(offered())
    for trigger in offered():
        assert f'data-trigger="{trigger}"' in page.content.decode()
        response = client.post(
            at("dashboard-flow-new", site), {"trigger": trigger, "channel": StepChannel.SMS}
        )
        flow = Flow.objects.filter(site=site, trigger=trigger).latest("pk")
        assert response.status_code == 302
        assert response["Location"] == at("dashboard-flow", site, flow.pk)
        step = flow.steps.get()
        assert step.template == default_template(site=site, trigger=trigger)
        assert flow.is_active
        assert client.get(response["Location"]).status_code == 200


def test_a_trigger_not_offered_is_refused_and_nothing_is_made(signed_in, site):
    response = signed_in.post(
        at("dashboard-flow-new", site), {"trigger": "email_cart", "channel": StepChannel.SMS}
    )
    assert response.status_code == 400
    assert not Flow.objects.filter(site=site).exists()


# --- A flow's page --------------------------------------------------------------------------


def test_the_flow_page_shows_its_steps_on_a_timeline(signed_in, site):
    step = StepFactory(flow__site=site, delay_minutes=60)
    StepFactory(
        flow=step.flow,
        position=2,
        delay_minutes=24 * 60,
        discount_mode="fixed",
        discount_code="MERCI10",
    )
    response = signed_in.get(at("dashboard-flow", site, step.flow.pk))
    html = response.content.decode()
    assert html.index("Étape 1") < html.index("Étape 2")
    assert "1 h après le déclencheur" in html and "1 jour après l’étape précédente" in html
    assert "Code MERCI10 pour tous" in html
    assert "Mention de désinscription" in html  # the opt-out mention that applies
    assert 'name="steps-0-template"' in html and 'name="holdout_percent"' in html


def test_a_valid_edit_is_saved(signed_in, site):
    step = StepFactory(flow__site=site)
    text = "{{ first_name }}, votre panier vous attend : {{ link }}"
    response = signed_in.post(
        at("dashboard-flow", site, step.flow.pk),
        step_data(step, **{"steps-0-template": text, "holdout_percent": "10"}),
    )
    assert response.status_code == 302, response.context and response.context["formset"].errors
    step.refresh_from_db()
    step.flow.refresh_from_db()
    assert step.template == text and step.flow.holdout_percent == 10


def _admin_errors(client, step, template):
    flow = step.flow
    data = {
        "site": str(flow.site_id),
        "name": flow.name,
        "slug": flow.slug,
        "trigger": flow.trigger,
        "is_active": "on",
        "holdout_percent": "0",
        "min_cart_total": "",
        "transliterate": "on",
        "max_segments": str(flow.max_segments),
        "link_url": "",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": str(step.pk),
        "steps-0-flow": str(flow.pk),
        "steps-0-position": str(step.position),
        "steps-0-delay_minutes": str(step.delay_minutes),
        "steps-0-channel": step.channel,
        "steps-0-template": template,
        "steps-0-subject": "",
        "steps-0-email_template": "",
        "steps-0-discount_mode": "none",
        "steps-0-discount_code": "",
        "steps-0-pool_fallback": "fixed",
    }
    response = client.post(reverse("admin:campaigns_flow_change", args=[flow.pk]), data)
    assert response.status_code == 200  # the form again, with its errors
    return response.context["inline_admin_formsets"][0].formset.errors[0]["template"]


@pytest.mark.parametrize(
    "template",
    [
        "Bonjour {{ prenom }} {{ link }}",  # a variable its trigger does not fill
        "Bonjour {% if first_name %} {{ link }}",  # not a template
        "Bonjour " + "x" * 900 + " {{ link }}",  # over the segment limit at its longest
    ],
)
def test_an_invalid_text_is_refused_with_the_admins_own_error(signed_in, site, template):
    step = StepFactory(flow__site=site)
    before = step.template
    response = signed_in.post(
        at("dashboard-flow", site, step.flow.pk), step_data(step, **{"steps-0-template": template})
    )
    assert response.status_code == 400
    dashboard_errors = response.context["formset"].errors[0]["template"]
    assert dashboard_errors  # refused, and said why
    step.refresh_from_db()
    assert step.template == before  # nothing changed
    # The admin, with the same text, says exactly the same.
    assert dashboard_errors == _admin_errors(signed_in, step, template)


def test_activate_and_pause(signed_in, site):
    flow = StepFactory(flow__site=site).flow
    response = signed_in.post(at("dashboard-flow-state", site, flow.pk), {"active": "0"})
    assert response.status_code == 302
    flow.refresh_from_db()
    assert not flow.is_active
    assert "Activer" in signed_in.get(at("dashboard-flow", site, flow.pk)).content.decode()
    signed_in.post(at("dashboard-flow-state", site, flow.pk), {"active": "1"})
    flow.refresh_from_db()
    assert flow.is_active
    assert signed_in.get(at("dashboard-flow-state", site, flow.pk)).status_code == 405


def test_a_step_is_added_and_removed(signed_in, site):
    step = StepFactory(flow__site=site)
    flow = step.flow
    signed_in.post(at("dashboard-flow-step-add", site, flow.pk))
    added = flow.steps.get(position=2)
    assert added.template == default_template(site=site, trigger=flow.trigger)
    assert added.delay_minutes == 24 * 60
    signed_in.post(at("dashboard-flow-step-remove", site, flow.pk), {"step": step.pk})
    assert list(flow.steps.values_list("pk", "position")) == [(added.pk, 1)]
    # The last step stays; a step that sent messages stays.
    response = signed_in.post(
        at("dashboard-flow-step-remove", site, flow.pk), {"step": added.pk}, follow=True
    )
    assert flow.steps.count() == 1
    assert "au moins une étape" in response.content.decode()
    signed_in.post(at("dashboard-flow-step-add", site, flow.pk))
    SendFactory(step=added, cart__visitor__site=site)
    signed_in.post(at("dashboard-flow-step-remove", site, flow.pk), {"step": added.pk})
    assert Step.objects.filter(pk=added.pk).exists()


def test_another_shops_flow_is_not_found_and_nothing_changes(signed_in, site):
    theirs = StepFactory(flow__site=SiteFactory())
    flow = theirs.flow
    assert signed_in.get(at("dashboard-flow", site, flow.pk)).status_code == 404
    assert signed_in.get(at("dashboard-flow", flow.site, flow.pk)).status_code == 404
    for name, data in [
        ("dashboard-flow", step_data(theirs, **{"steps-0-template": "x {{ link }}"})),
        ("dashboard-flow-state", {"active": "0"}),
        ("dashboard-flow-step-add", {}),
        ("dashboard-flow-step-remove", {"step": theirs.pk}),
    ]:
        assert signed_in.post(at(name, site, flow.pk), data).status_code == 404, name
    # Its step through our flow's address: not found either.
    ours = StepFactory(flow__site=site).flow
    response = signed_in.post(at("dashboard-flow-step-remove", site, ours.pk), {"step": theirs.pk})
    assert response.status_code == 404
    flow.refresh_from_db()
    assert flow.is_active and flow.steps.count() == 1
    assert Step.objects.get(pk=theirs.pk).template == theirs.template


def test_posts_need_the_csrf_token(member, site):
    flow = StepFactory(flow__site=site).flow
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert (
        client.post(at("dashboard-flow-state", site, flow.pk), {"active": "0"}).status_code == 403
    )
    assert client.post(at("dashboard-flow-step-add", site, flow.pk)).status_code == 403
    assert (
        client.post(at("dashboard-flow-new", site), {"trigger": "cart_abandoned"}).status_code
        == 403
    )
    flow.refresh_from_db()
    assert flow.is_active and flow.steps.count() == 1
    assert Flow.objects.filter(site=site).count() == 1
    # With the page's token, the same post goes through (the control).
    page = client.get(at("dashboard-flow", site, flow.pk))
    token = page.context["csrf_token"]
    response = client.post(
        at("dashboard-flow-state", site, flow.pk), {"active": "0", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_delay_words():
    assert delay_words(30) == "30 min"
    assert delay_words(60) == "1 h"
    assert delay_words(24 * 60 + 90) == "1 day 1 h 30 min"


def test_no_step_is_added_by_hand_to_a_flow_relance_makes(signed_in, site):
    step = StepFactory(flow__site=site, flow__trigger="email_cart")
    response = signed_in.post(at("dashboard-flow-step-add", site, step.flow.pk), follow=True)
    assert step.flow.steps.count() == 1
    assert "faites par Relance lui-même" in response.content.decode()


def test_a_forged_form_count_or_step_id_changes_nothing_and_breaks_nothing(signed_in, site):
    """Steps are added and removed by their own actions: a form count raised by hand adds
    no step (and no error page), and a step id that is not a number is not found."""
    step = StepFactory(flow__site=site)
    forged = step_data(step, **{"steps-TOTAL_FORMS": "2", "steps-1-template": "Hop {{ link }}"})
    response = signed_in.post(at("dashboard-flow", site, step.flow.pk), forged)
    assert response.status_code in (200, 302, 400)  # refused or ignored, never an error page
    assert Step.objects.filter(flow=step.flow).count() == 1
    response = signed_in.post(at("dashboard-flow-step-remove", site, step.flow.pk), {"step": "abc"})
    assert response.status_code == 404
    assert Step.objects.filter(flow=step.flow).count() == 1
