"""Adding an SMS provider is one folder plus one registry line: ``example_provider/`` is the
folder, ``EXAMPLE`` the line, chosen by dotted path in ``SMS_BACKEND``, and it keeps the whole
shared contract (docs/development.md, "Adding an SMS provider")."""

from __future__ import annotations

import environ
import pytest

from retargeting.gateways import get_gateway, registry
from retargeting.gateways.base import Action
from tests.gateways.contract import ProviderContract, ProviderUnderTest
from tests.gateways.example_provider.carrier import CARRIER
from tests.gateways.example_provider.signatures import sign
from tests.gateways.test_sms_contract import BASE, mobile, rate_setter, sms

GATEWAY = "tests.gateways.example_provider.gateway.ExampleGateway"
# The registry line, as it would be written in retargeting/gateways/registry.py.
EXAMPLE = registry.Provider(
    "example",
    "sms",
    GATEWAY,
    urls="tests.gateways.example_provider.urls",
    url_prefix="webhooks/example/",
    settings_check="tests.gateways.example_provider.settings_check.check",
)


@pytest.fixture
def registered(monkeypatch, settings):
    """Example's registry line is in, and ``SMS_BACKEND`` names its class by dotted path."""
    monkeypatch.setattr(registry, "PROVIDERS", [*registry.PROVIDERS, EXAMPLE])
    settings.ROOT_URLCONF = "tests.gateways.example_provider.root_urls"
    settings.SMS_BACKEND = GATEWAY
    settings.EXAMPLE_API_KEY = "example-key"
    settings.EXAMPLE_SENDER = "EXAMPLE"
    settings.PUBLIC_BASE_URL = BASE
    yield EXAMPLE
    CARRIER.messages.clear()
    CARRIER.refused.clear()
    CARRIER.down = 0


class TestExampleProvider(ProviderContract):
    @pytest.fixture
    def provider(self, registered, settings):
        def refused() -> tuple[str, Action]:
            to = mobile()
            CARRIER.refused[to] = "opted_out"
            return to, Action.REVOKE_CONSENT

        def take_down() -> None:
            CARRIER.down += 1

        def webhook(client, provider_id: str, forged: bool):
            body = f"id={provider_id}&status=delivered"
            signature = sign(body.encode())
            if forged:
                body = f"id={provider_id}&status=failed&error=opted_out"
            return client.post(
                "/webhooks/example/status",
                data=body,
                content_type="application/x-www-form-urlencoded",
                HTTP_X_EXAMPLE_SIGNATURE=signature,
            )

        return ProviderUnderTest(
            gateway=get_gateway(),
            message=sms,
            new_address=mobile,
            refused_address=refused,
            take_down=take_down,
            received=lambda to: [
                body for _s, number, body in CARRIER.messages.values() if number == to
            ],
            set_rate=rate_setter(settings),
            default_sender="EXAMPLE",
            not_replyable_sender="EXAMPLE",
            webhook=webhook,
        )


def test_the_dotted_path_chooses_the_registered_provider(registered):
    assert registry.configured("sms") is EXAMPLE
    assert type(get_gateway()).__name__ == "ExampleGateway"
    # Its alias chooses it too, as SMS_BACKEND=twilio chooses Twilio.
    assert registry.resolve("example", channel="sms") is EXAMPLE


def test_its_settings_check_runs_for_its_dotted_path(registered):
    env = environ.Env()
    problems = registry.check_settings(GATEWAY, channel="sms", env=env, debug=True)
    assert problems.missing == ["EXAMPLE_API_KEY", "EXAMPLE_SENDER"]


def test_its_settings_check_passes_with_its_settings(registered, monkeypatch):
    monkeypatch.setenv("EXAMPLE_API_KEY", "k")
    monkeypatch.setenv("EXAMPLE_SENDER", "EXAMPLE")
    problems = registry.check_settings("example", channel="sms", env=environ.Env(), debug=False)
    assert (problems.missing, problems.wrong) == ([], [])


def test_its_webhook_url_is_what_sms_webhooks_prints(registered):
    provider, url = registry.webhook_url("sms")
    assert (provider, url) == (EXAMPLE, BASE + "/webhooks/example/status")
