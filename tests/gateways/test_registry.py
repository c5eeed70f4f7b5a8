"""One registry of providers: SMS_BACKEND is an alias or a dotted path, as Django's
EMAIL_BACKEND; it builds the webhook URLs; nothing outside a provider's folder names a vendor."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import resolve as resolve_url

from retargeting.gateways import get_gateway, registry
from retargeting.gateways.checks import check_configured_providers
from retargeting.gateways.twilio.gateway import TwilioGateway

ROOT = Path(__file__).resolve().parents[2]
TWILIO = "retargeting.gateways.twilio.gateway.TwilioGateway"


@pytest.mark.parametrize("alias", ["outbox", "twilio", "brevo"])
def test_each_alias_names_its_provider_and_its_class_path_the_same(alias):
    provider = registry.resolve(alias, channel="sms")
    assert provider.alias == alias
    assert registry.resolve(provider.gateway, channel="sms") is provider
    assert registry.gateway_class(provider).name == alias


def test_a_dotted_path_chooses_the_gateway(settings):
    settings.SMS_BACKEND = TWILIO
    assert isinstance(get_gateway(), TwilioGateway)
    assert registry.configured("sms").alias == "twilio"  # its webhooks and settings check


def test_an_unregistered_dotted_path_is_used_as_it_is(settings):
    path = "tests.gateways.example_provider.gateway.ExampleGateway"
    settings.SMS_BACKEND = path
    provider = registry.configured("sms")
    assert (provider.gateway, provider.urls, provider.settings_check) == (path, "", "")
    assert type(get_gateway()).__name__ == "ExampleGateway"


def test_an_unknown_name_is_refused_with_one_line():
    with pytest.raises(registry.UnknownProvider) as refused:
        registry.resolve("carrier-pigeon", channel="sms")
    assert str(refused.value) == (
        "SMS_BACKEND must be 'outbox', 'twilio' or 'brevo', or the dotted path of a Gateway "
        "class, not 'carrier-pigeon'"
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("retargeting.gateways.nowhere.Gateway", "gateways.E001"),
        ("retargeting.gateways.base.OutgoingSms", "gateways.E002"),
        ("retargeting.gateways.smtp.gateway.SmtpGateway", "gateways.E002"),
    ],
)
def test_the_system_check_refuses_a_path_that_is_no_sms_gateway(settings, value, error):
    assert check_configured_providers() == []  # control
    settings.SMS_BACKEND = value
    assert [message.id for message in check_configured_providers()] == [error]


def test_the_registry_mounts_every_providers_webhooks_at_their_public_urls():
    assert resolve_url("/webhooks/twilio/inbound").url_name == "twilio-inbound"
    assert resolve_url("/webhooks/twilio/status").url_name == "twilio-status"
    assert resolve_url("/webhooks/brevo/sms/abc").url_name == "brevo-sms"
    assert resolve_url("/dev/phone/").url_name == "phone-index"


def test_sms_webhooks_names_a_provider_without_webhooks(settings):
    settings.SMS_BACKEND = "outbox"
    with pytest.raises(CommandError, match="the outbox backend receives no webhooks"):
        call_command("sms_webhooks")


VENDORS = {"outbox", "twilio", "brevo"}


def _vendor_names_compared(path: Path) -> list[int]:
    """The lines of ``== "twilio"``, ``!= "outbox"``, ``in ("brevo", ...)``: a vendor's name
    tested."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                values = part.elts if isinstance(part, ast.Tuple | ast.List | ast.Set) else [part]
                for value in values:
                    if isinstance(value, ast.Constant) and value.value in VENDORS:
                        found.append(node.lineno)
    return found


def test_no_code_outside_a_providers_folder_tests_a_vendors_name():
    providers = [ROOT / "retargeting" / "gateways" / name for name in VENDORS]
    files = [
        path
        for app in ("retargeting", "optin", "campaigns")
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and not any(p in path.parents for p in providers)
    ]
    hits = {str(path.relative_to(ROOT)): _vendor_names_compared(path) for path in files}
    assert {path: lines for path, lines in hits.items() if lines} == {}


def test_the_check_sees_a_vendors_name_tested(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('if settings.SMS_BACKEND != "outbox" or x in ("twilio",):\n    pass\n')
    assert _vendor_names_compared(sample) == [1, 1]


def _gateway_send_calls(path: Path) -> list[int]:
    """Calls of ``<something gateway>.send(...)``: a message leaving outside ``deliver``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "send"
            and "gateway" in ast.unparse(node.func.value).lower()
        ):
            found.append(node.lineno)
    return found


def test_every_message_leaves_through_deliver():
    one_way_out = ROOT / "retargeting" / "gateways" / "__init__.py"
    files = [
        path
        for app in ("retargeting", "optin", "campaigns")
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and path != one_way_out
    ]
    hits = {str(path.relative_to(ROOT)): _gateway_send_calls(path) for path in files}
    assert {path: lines for path, lines in hits.items() if lines} == {}
    assert len(_gateway_send_calls(one_way_out)) == 1  # deliver's own call


def test_the_check_sees_a_gateway_called_directly(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("get_gateway().send(sms)\nself.gateway.send(sms)\nsignal.send(x)\n")
    assert _gateway_send_calls(sample) == [1, 2]
