"""Fixtures: the Brevo emulator wired into the settings."""

from __future__ import annotations

import pytest

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
