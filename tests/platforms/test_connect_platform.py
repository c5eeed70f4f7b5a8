"""``manage.py connect_platform`` (CONTRACT.md "Commands"): stores the signing secret, prints one
JSON object with ``webhook_url``, exits non-zero with one line when it fails."""

from __future__ import annotations

import json
import subprocess
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import resolve

from retargeting.platforms.models import PlatformConnection
from retargeting.sites.services import create_site
from tests.support.processes import MANAGE, PYTHON, ROOT, env_for_test_database

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    return create_site(name="Shop", domains=["shop.example"], country="FR").site


def connect(*args: str) -> dict:
    out = StringIO()
    call_command("connect_platform", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, "stdout is one JSON object"
    return json.loads(lines[0])


def test_prints_the_webhook_url_and_stores_the_secret(site, settings):
    printed = connect("--site", str(site.pk), "--platform", "shopify", "--secret", "shpss_abcdef12")
    assert printed["webhook_url"].startswith(settings.PUBLIC_BASE_URL + "/webhooks/shopify/")
    assert printed["topics"] == [
        "checkouts/create",
        "checkouts/update",
        "orders/create",
        "fulfillments/create",
        "fulfillments/update",
        "products/update",
    ]
    connection = PlatformConnection.objects.get(site=site)
    assert connection.signing_secret == "shpss_abcdef12"
    assert resolve(urlsplit(printed["webhook_url"]).path).url_name == "platform-webhook"


def test_a_second_call_rotates_the_secret_and_keeps_the_url(site):
    first = connect("--site", str(site.pk), "--platform", "woocommerce", "--secret", "one-secret")
    again = connect("--site", str(site.pk), "--platform", "woocommerce", "--secret", "two-secret")
    assert again["topics"] == ["order.created", "order.updated", "product.updated"]
    assert first["webhook_url"] == again["webhook_url"]
    assert PlatformConnection.objects.get(site=site).signing_secret == "two-secret"


def test_the_shop_domain_joins_the_sites_domains(site):
    connect(
        "--site",
        str(site.pk),
        "--platform",
        "shopify",
        "--secret",
        "shpss_abcdef12",
        "--shop-domain",
        "Boutique.myshopify.com",
    )
    site.refresh_from_db()
    assert site.allowed_domains == ["boutique.myshopify.com", "shop.example"]


def test_two_sites_get_two_addresses(site):
    other = create_site(name="Other", domains=["other.example"], country="FR").site
    mine = connect("--site", str(site.pk), "--platform", "shopify", "--secret", "s-12345678")
    theirs = connect("--site", str(other.pk), "--platform", "shopify", "--secret", "s-12345678")
    assert mine["webhook_url"] != theirs["webhook_url"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "999999", "--platform", "shopify", "--secret", "s-12345678"], "no site 999999"),
        (["--site", "{site}", "--platform", "shopify", "--secret", "short"], "too short"),
        (["--site", "{site}", "--platform", "magento", "--secret", "s-12345678"], "invalid choice"),
        (
            [
                "--site",
                "{site}",
                "--platform",
                "shopify",
                "--secret",
                "s-12345678",
                "--shop-domain",
                "not a domain",
            ],
            "",
        ),
    ],
)
def test_fails_with_one_line_and_a_non_zero_exit(args, message):
    site = create_site(name="Shop", domains=["shop.example"], country="FR").site
    argv = [arg.format(site=site.pk) for arg in args]
    result = subprocess.run(
        [PYTHON, MANAGE, "connect_platform", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env_for_test_database(),
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert message in result.stderr
    assert not PlatformConnection.objects.exists()


def test_the_email_consent_field_and_its_wording_are_stored(site):
    connect(
        "--site",
        str(site.pk),
        "--platform",
        "woocommerce",
        "--secret",
        "wc-secret-1",
        "--email-consent-field",
        "_newsletter",
        "--email-consent-text",
        "Je veux recevoir les offres par email",
    )
    connection = PlatformConnection.objects.get(site=site)
    assert (connection.email_consent_field, connection.email_consent_text) == (
        "_newsletter",
        "Je veux recevoir les offres par email",
    )
    assert connection.sms_consent_field == ""  # one never implies the other
