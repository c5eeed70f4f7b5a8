from __future__ import annotations

import json
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Flow, StepChannel, Trigger
from retargeting.sites.models import Site
from retargeting.sites.services import site_for_secret_key
from tests.support.processes import MANAGE, PYTHON, ROOT, env_for_test_database

pytestmark = pytest.mark.django_db


def bootstrap(*args: str) -> dict:
    out = StringIO()
    call_command("bootstrap_site", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, "stdout is one JSON object"
    return json.loads(lines[0])


def test_prints_the_contract_json_and_creates_the_site_and_its_flow():
    printed = bootstrap("--name", "Shop", "--domain", "shop.example", "--country", "FR")
    assert set(printed) == {"site_id", "public_key", "secret_key", "flow_id"}
    site = Site.objects.get(pk=printed["site_id"])
    assert site.name == "Shop"
    assert site.public_key == printed["public_key"]
    assert site_for_secret_key(printed["secret_key"]) == site
    flow = Flow.objects.get(pk=printed["flow_id"])
    assert flow.site == site and flow.trigger == Trigger.CART_ABANDONED and flow.is_active


def test_default_flow_is_one_french_step_with_the_stop_mention():
    printed = bootstrap("--name", "Shop", "--domain", "shop.example", "--country", "FR")
    steps = list(Flow.objects.get(pk=printed["flow_id"]).steps.all())
    assert len(steps) == 1
    step = steps[0]
    assert (step.position, step.delay_minutes) == (1, 30)
    assert "votre panier" in step.template
    assert "{{ link }}" in step.template
    assert "STOP" in step.template


def test_defaults_of_a_bootstrapped_site():
    site = Site.objects.get(
        pk=bootstrap("--name", "Shop", "--domain", "shop.example", "--country", "FR")["site_id"]
    )
    assert site.quiet_hours == "fr_strict"
    assert site.cap_per_24h == 1
    assert site.stale_after_hours == 48
    assert site.double_opt_in is True
    assert site.sender == ""


def test_every_option_is_applied():
    printed = bootstrap(
        "--name",
        "Boutique",
        "--domain",
        "https://boutique.example:8443",
        "--domain",
        "m.boutique.example",
        "--country",
        "FR",
        "--sender",
        "BOUTIQUE",
        "--delay-minutes",
        "45",
        "--quiet-hours",
        "none",
        "--double-opt-in",
        "off",
    )
    site = Site.objects.get(pk=printed["site_id"])
    assert site.allowed_domains == ["boutique.example", "m.boutique.example"]
    assert site.sender == "BOUTIQUE"
    assert site.quiet_hours == "none"
    assert site.double_opt_in is False
    assert Flow.objects.get(pk=printed["flow_id"]).steps.get().delay_minutes == 45


def test_an_english_speaking_country_gets_an_english_template():
    printed = bootstrap("--name", "Shop", "--domain", "shop.example", "--country", "GB")
    template = Flow.objects.get(pk=printed["flow_id"]).steps.get().template
    assert "cart awaits" in template and "STOP" in template


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country", "ZZ", "--domain", "shop.example"], "not an ISO 3166 country code"),
        (["--country", "FR", "--domain", "bad..host"], "not a valid host name"),
        (["--country", "FR", "--domain", "shop.example", "--delay-minutes", "0"], "at least 1"),
        (["--country", "FR"], "--domain"),
        (
            ["--country", "FR", "--domain", "x.example", "--quiet-hours", "sometimes"],
            "invalid choice",
        ),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_a_failure_exits_non_zero_with_one_line_and_creates_nothing(args, message):
    result = subprocess.run(
        [PYTHON, MANAGE, "bootstrap_site", "--name", "Shop", *args],
        cwd=ROOT,
        env=env_for_test_database(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr
    assert not Site.objects.exists()


def test_the_default_step_stays_sms_without_email_fallback():
    printed = bootstrap("--name", "Shop", "--domain", "shop.example", "--country", "FR")
    step = Flow.objects.get(pk=printed["flow_id"]).steps.get()
    assert step.channel == StepChannel.SMS
    site = Site.objects.get(pk=printed["site_id"])
    assert (site.email_from, site.postal_address) == ("", "")


def test_email_fallback_on_makes_the_default_step_sms_else_email_with_an_email():
    printed = bootstrap(
        "--name",
        "Shop",
        "--domain",
        "shop.example",
        "--country",
        "FR",
        "--email-fallback",
        "on",
        "--email-from",
        "La Boutique <Contact@Boutique.Example>",
        "--postal-address",
        "3 rue des Lilas, 75011 Paris",
    )
    step = Flow.objects.get(pk=printed["flow_id"]).steps.get()
    assert step.channel == StepChannel.SMS_ELSE_EMAIL
    assert "{{ shop }}" in step.subject and "{{ link }}" in step.email_template
    assert "STOP" in step.template  # the SMS keeps its mention
    site = Site.objects.get(pk=printed["site_id"])
    assert site.email_from == "La Boutique <contact@boutique.example>"
    assert site.postal_address == "3 rue des Lilas, 75011 Paris"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("contact@boutique.example", "contact@boutique.example"),
        ('"Dupont, Fils" <a@boutique.example>', '"Dupont, Fils" <a@boutique.example>'),
    ],
)
def test_email_from_takes_a_bare_address_or_a_quoted_name(raw, stored):
    printed = bootstrap(
        "--name", "Shop", "--domain", "shop.example", "--country", "FR", "--email-from", raw
    )
    assert Site.objects.get(pk=printed["site_id"]).email_from == stored


@pytest.mark.parametrize(
    "raw", ["Boutique <not an address>", "Boutique Marie, a@b.example", "a@", "Boutique <"]
)
def test_a_bad_email_from_is_refused_in_one_line_and_creates_nothing(raw):
    with pytest.raises(CommandError, match="email_from") as refused:
        bootstrap(
            "--name", "Shop", "--domain", "shop.example", "--country", "FR", "--email-from", raw
        )
    assert "\n" not in str(refused.value)
    assert not Site.objects.exists()
