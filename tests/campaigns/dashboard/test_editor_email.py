"""The flow editor's email preview (campaigns/dashboard/editor.py and preview.py): a step that
may go by email gets its email (subject, HTML, text) rendered with sample data by the same
function that sends, or its errors; an SMS step gets none."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from retargeting.sites.services import add_member
from tests.factories import FlowFactory

pytestmark = pytest.mark.django_db

SMS_TEXT = "{{ shop }} : votre panier vous attend {{ link }} STOP"


@pytest.fixture
def marketer(site):
    user = User.objects.create_user("marketer", password="x")
    add_member(site=site, user=user)
    return user


def preview(client, **fields):
    return client.post("/dashboard/preview", {"template": SMS_TEXT, **fields}).json()


def test_an_email_step_previews_its_email_with_sample_data(client, marketer, site):
    site.name = "Maison Demo"
    site.save()
    flow = FlowFactory(site=site)
    client.force_login(marketer)
    data = preview(
        client,
        flow=flow.pk,
        channel="email",
        subject="{{ first_name }}, votre panier",
        email_template="Bonjour {{ first_name }} <b>!</b>",
    )
    email = data["email"]
    assert email["errors"] == [] and email["subject"] == "Marie, votre panier"
    assert "Bonjour Marie &lt;b&gt;!&lt;/b&gt;" in email["html"]
    assert "Chemise en lin" in email["html"] and "59,90 €" in email["html"]
    assert "Retrouver mon panier" in email["html"]
    assert email["text"].startswith("Bonjour Marie <b>!</b>")
    assert data["labels"]["on_phone"] == "Sur un téléphone (390 px de large)"
    assert data["labels"]["on_desktop"] == "Sur un ordinateur (1280 px de large)"
    # The SMS preview is still there: an "SMS, else email" step sends it.
    assert data["sample"]["text"].startswith("Maison Demo : votre panier vous attend")


def test_an_email_steps_errors_are_shown_instead_of_its_email(client, marketer, site):
    flow = FlowFactory(site=site)
    client.force_login(marketer)
    data = preview(
        client, flow=flow.pk, channel="sms_else_email", subject="", email_template="Répondez STOP"
    )
    assert data["email"]["html"] == ""
    assert data["email"]["errors"] == [
        "Une étape email a besoin d'un objet.",
        "« Repondez STOP » : on ne répond pas STOP à un email. Retirez cette mention : chaque "
        "email se termine par son lien de désinscription.",
    ]


def test_an_sms_step_has_no_email_and_an_unknown_channel_is_sms(client, marketer, site):
    flow = FlowFactory(site=site)
    client.force_login(marketer)
    assert preview(client, flow=flow.pk)["email"] is None
    assert preview(client, flow=flow.pk, channel="pigeon", subject="x")["email"] is None


def test_another_sites_flow_is_a_404(client, marketer):
    other = FlowFactory()
    client.force_login(marketer)
    response = client.post(
        "/dashboard/preview", {"flow": other.pk, "template": SMS_TEXT, "channel": "email"}
    )
    assert response.status_code == 404
