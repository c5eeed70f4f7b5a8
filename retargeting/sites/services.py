"""Creating sites and managing their keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

from retargeting.sites import keys
from retargeting.sites.domains import normalize_domain
from retargeting.sites.models import Language, Membership, QuietHours, Site
from retargeting.sites.zones import principal_zone

# Countries whose shops get French-language defaults.
FRENCH_SPEAKING = {"FR", "BE", "LU", "MC", "CH", "RE", "GP", "MQ", "GF", "YT", "PM", "NC", "PF"}


@dataclass(frozen=True)
class CreatedSite:
    site: Site
    secret_key: str
    """Shown once: only its digest is stored."""


def default_time_zone(country: str) -> str:
    """The principal time zone of a country (IANA's zone.tab), UTC when it has none."""
    return principal_zone(country)


def create_site(
    *,
    name: str,
    domains: list[str],
    country: str,
    time_zone: str | None = None,
    language: str | None = None,
    sender: str = "",
    quiet_hours: str = QuietHours.FR_STRICT,
    double_opt_in: bool = True,
) -> CreatedSite:
    """Create a site with fresh keys. Raises ``ValidationError`` on any invalid field."""
    country = country.upper()
    secret_key = keys.new_secret_key()
    site = Site(
        name=name.strip(),
        public_key=keys.new_public_key(),
        secret_key_hash=keys.hash_secret_key(secret_key),
        secret_key_hint=secret_key[-4:],
        allowed_domains=sorted({normalize_domain(domain) for domain in domains}),
        country=country,
        time_zone=time_zone or default_time_zone(country),
        language=language or (Language.FR if country in FRENCH_SPEAKING else Language.EN),
        sender=sender.strip(),
        quiet_hours=quiet_hours,
        double_opt_in=double_opt_in,
    )
    site.full_clean()
    site.save()
    return CreatedSite(site=site, secret_key=secret_key)


@transaction.atomic
def rotate_secret_key(*, site: Site) -> str:
    """Replace a site's secret key; the old one stops working at once. Returns the new key."""
    secret_key = keys.new_secret_key()
    site.secret_key_hash = keys.hash_secret_key(secret_key)
    site.secret_key_hint = secret_key[-4:]
    site.save(update_fields=["secret_key_hash", "secret_key_hint", "updated_at"])
    return secret_key


def site_for_secret_key(secret_key: str) -> Site | None:
    """The site a server API key belongs to, or None."""
    if not secret_key.startswith(keys.SECRET_PREFIX):
        return None
    site = Site.objects.filter(secret_key_hash=keys.hash_secret_key(secret_key)).first()
    if site and keys.secret_key_matches(secret_key=secret_key, stored_hash=site.secret_key_hash):
        return site
    return None


# What a member may do in the admin, on their own sites' rows only (retargeting.sites.scoped_admin).
MARKETERS_GROUP = "Marketers"
MARKETER_APPS = ("sites", "tracking", "optin", "campaigns")


def marketers_group() -> Group:
    """The group holding the admin permissions of members (created on first use)."""
    group, _ = Group.objects.get_or_create(name=MARKETERS_GROUP)
    if not group.permissions.exists():
        group.permissions.set(Permission.objects.filter(content_type__app_label__in=MARKETER_APPS))
    return group


@transaction.atomic
def add_member(*, site: Site, user: User, role: str = Membership.Role.MARKETER) -> Membership:
    """Give a user access to a site and to its pages in the admin (idempotent)."""
    membership, _ = Membership.objects.get_or_create(site=site, user=user, defaults={"role": role})
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(marketers_group())
    return membership
