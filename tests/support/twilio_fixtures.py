"""Fixtures: the Twilio emulator wired into the settings, and swappable gateway handlers."""

from __future__ import annotations

import pytest

from retargeting.gateways import hooks
from tests.support.twilio_emulator import ACCOUNT_SID, AUTH_TOKEN, TwilioEmulator

SENDER = "+33757000001"


@pytest.fixture
def twilio(settings):
    with TwilioEmulator() as emulator:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.TWILIO_FROM = SENDER
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_API_BASE_URL = emulator.base_url
        settings.PUBLIC_BASE_URL = "https://relance.example"
        yield emulator


@pytest.fixture
def handlers():
    """Replace the registered handlers for one test, then put them back."""
    saved = (list(hooks._inbound), list(hooks._status), list(hooks._opt_out))
    hooks._inbound.clear()
    hooks._status.clear()
    hooks._opt_out.clear()
    yield hooks
    hooks._inbound[:], hooks._status[:], hooks._opt_out[:] = saved
