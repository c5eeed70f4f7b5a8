"""Fixtures: the Brevo emulator wired into the settings, and a reminder Brevo accepted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import sending
from tests.factories import SendFactory, StepFactory
from tests.support.brevo_emulator import API_KEY, BrevoEmulator

SENDER = "MAISON"


@pytest.fixture
def brevo(settings):
    with BrevoEmulator() as emulator:
        settings.SMS_BACKEND = "brevo"
        settings.BREVO_API_KEY = API_KEY
        settings.BREVO_SENDER = SENDER
        settings.BREVO_API_BASE_URL = emulator.base_url
        settings.PUBLIC_BASE_URL = "https://relance.example"
        yield emulator


@pytest.fixture
def brevo_accepted(brevo, site, consenting_contact, abandoned_cart_of):
    """A reminder sent through Brevo's emulator and accepted."""
    site.quiet_hours = "none"
    site.save()
    step = StepFactory(flow__site=site, delay_minutes=30, template="Votre panier : {{ link }}")
    cart = abandoned_cart_of(consenting_contact, at=timezone.now() - timedelta(minutes=30))
    send = SendFactory(
        cart=cart,
        step=step,
        contact=consenting_contact,
        planned_at=timezone.now() - timedelta(minutes=1),
        due_at=timezone.now(),
    )
    assert sending.deliver(send_id=send.pk) == "accepted"
    send.refresh_from_db()
    return send
