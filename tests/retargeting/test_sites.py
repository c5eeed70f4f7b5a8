from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from retargeting.sites import keys
from retargeting.sites.domains import host_allowed, normalize_domain
from retargeting.sites.models import Site
from retargeting.sites.services import (
    create_site,
    default_time_zone,
    rotate_secret_key,
    site_for_secret_key,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("shop.example", "shop.example"),
        ("https://Shop.Example:8443/cart?x=1", "shop.example"),
        ("http://localhost:8000", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("boutique-élégante.fr", "xn--boutique-lgante-jnbb.fr"),
        ("shop.example.", "shop.example"),
    ],
)
def test_domains_are_reduced_to_bare_hosts(raw, host):
    assert normalize_domain(raw) == host


@pytest.mark.parametrize("raw", ["", "  ", "https://", "bad..host", "-x.example", "a b.example"])
def test_what_is_no_host_is_refused(raw):
    with pytest.raises(ValidationError):
        normalize_domain(raw)


def test_subdomains_of_a_listed_domain_are_allowed_and_lookalikes_are_not():
    domains = ["shop.example"]
    assert host_allowed("shop.example", domains)
    assert host_allowed("www.shop.example", domains)
    assert host_allowed("WWW.Shop.Example.", domains)
    assert not host_allowed("evilshop.example", domains)
    assert not host_allowed("shop.example.evil.test", domains)


def test_create_site_stores_only_a_digest_of_the_secret_key():
    created = create_site(name="Shop", domains=["https://shop.example"], country="fr")
    site = Site.objects.get()
    assert created.secret_key.startswith(keys.SECRET_PREFIX)
    assert site.secret_key_hash == keys.hash_secret_key(created.secret_key)
    assert created.secret_key not in {site.secret_key_hash, site.secret_key_hint}
    assert site.allowed_domains == ["shop.example"]
    assert (site.country, site.time_zone, site.language) == ("FR", "Europe/Paris", "fr")


def test_site_defaults_follow_the_contract():
    site = create_site(name="Shop", domains=["shop.example"], country="FR").site
    assert site.quiet_hours == "fr_strict"
    assert (site.cap_per_24h, site.cap_per_7d) == (1, 3)
    assert site.stale_after_hours == 48
    assert site.double_opt_in is True


def test_a_site_outside_french_speaking_countries_defaults_to_english():
    site = create_site(name="Shop", domains=["shop.example"], country="US").site
    assert site.language == "en"
    assert site.time_zone.startswith("America/")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"country": "ZZ"}, "not an ISO 3166 country code"),
        ({"time_zone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"domains": ["bad..host"]}, "not a valid host name"),
        ({"name": ""}, "cannot be blank"),
    ],
)
def test_an_invalid_site_is_refused_and_nothing_is_stored(fields, message):
    arguments = {"name": "Shop", "domains": ["shop.example"], "country": "FR", **fields}
    with pytest.raises(ValidationError, match=message):
        create_site(**arguments)
    assert not Site.objects.exists()


def test_the_server_api_finds_a_site_by_its_secret_key_only():
    created = create_site(name="Shop", domains=["shop.example"], country="FR")
    assert site_for_secret_key(created.secret_key) == created.site
    assert site_for_secret_key(created.secret_key + "x") is None
    assert site_for_secret_key(created.site.public_key) is None
    assert site_for_secret_key("") is None


def test_rotating_the_secret_key_retires_the_old_one_at_once():
    created = create_site(name="Shop", domains=["shop.example"], country="FR")
    new_key = rotate_secret_key(site=created.site)
    assert site_for_secret_key(created.secret_key) is None
    assert site_for_secret_key(new_key) == created.site


def test_default_time_zone_of_a_country():
    assert default_time_zone("FR") == "Europe/Paris"
    assert default_time_zone("RE") == "Indian/Reunion"
    assert default_time_zone("US") == "America/New_York"
    assert default_time_zone("AQ") != ""


def test_the_database_refuses_incoherent_caps(site):
    site.cap_per_24h, site.cap_per_7d = 3, 1
    with pytest.raises(IntegrityError), transaction.atomic():
        site.save()


def test_the_database_refuses_an_unknown_quiet_hours_preset(site):
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.filter(pk=site.pk).update(quiet_hours="whenever")


def test_the_zone_table_knows_each_zones_country():
    from retargeting.sites.zones import zone_country

    assert zone_country("Indian/Reunion") == "RE"
    assert zone_country("Indian/Mayotte") == "YT"
    assert zone_country("Mars/Olympus") == ""


@pytest.mark.parametrize(
    "country, expected",
    [("FR", "required"), ("RE", "required"), ("NO", "required"), ("US", "not_required"),
     ("CH", "not_required")],
)  # fmt: skip
def test_cookie_consent_defaults_to_required_in_the_eu_and_the_eea(country, expected):
    created = create_site(name=f"Shop {country}", domains=["shop.example"], country=country)
    site = Site.objects.get(pk=created.site.pk)
    assert site.cookie_consent == expected
    assert site.cookie_consent_required is (expected == "required")


def test_an_operator_choice_of_cookie_consent_is_kept_and_an_empty_one_means_the_country(site):
    site.cookie_consent = "not_required"
    site.full_clean()
    site.save()
    site.refresh_from_db()
    assert site.cookie_consent == "not_required" and not site.cookie_consent_required
    site.cookie_consent = ""
    site.full_clean()  # the admin's form: an emptied choice takes the country's default
    site.save()
    site.refresh_from_db()
    assert site.cookie_consent == "required"


def test_the_database_refuses_an_unknown_cookie_consent(site):
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.filter(pk=site.pk).update(cookie_consent="maybe")


@pytest.mark.parametrize("clock", ["08:00\n", "08:00\r\n", "08:00 ", "\n08:00"])
def test_an_opening_hour_with_anything_around_it_is_refused(clock):
    from retargeting.sites.hours import parse_clock

    assert str(parse_clock("08:00", "start")) == "08:00:00"  # control
    with pytest.raises(ValidationError):
        parse_clock(clock, "start")
