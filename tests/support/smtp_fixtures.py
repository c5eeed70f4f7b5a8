"""Fixtures: a real SMTP server wired into the settings (the SMTP email provider, no TLS)."""

from __future__ import annotations

import pytest

from tests.support.smtp_server import SmtpServer


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_PROVIDER = "smtp"
        settings.EMAIL_BACKEND = "retargeting.gateways.smtp.backend.EmailBackend"
        settings.EMAIL_HOST = server.host
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        yield server
