"""Connecting a site to its shop platform: the one place that creates or updates a connection."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from retargeting.platforms.models import Platform, PlatformConnection
from retargeting.sites.domains import normalize_domain
from retargeting.sites.models import Site

TOPICS = {
    Platform.SHOPIFY: [
        "checkouts/create",
        "checkouts/update",
        "orders/create",
        "fulfillments/create",
        "fulfillments/update",
        "products/update",
    ],
    Platform.WOOCOMMERCE: ["order.created", "order.updated", "product.updated"],
}


def connect(
    *,
    site: Site,
    platform: str,
    secret: str,
    shop_domain: str = "",
    sms_consent_field: str = "",
    sms_consent_text: str = "",
    email_consent_field: str = "",
    email_consent_text: str = "",
) -> PlatformConnection:
    """Store (or rotate) the platform's signing secret for the site; the webhook URL stays the
    same on a second call. ``shop_domain`` (the store's own host, e.g. ``x.myshopify.com``) is
    added to the site's domains, since the platform's restore links are on it."""
    if platform not in Platform.values:
        raise ValidationError(f"unknown platform {platform!r}: shopify or woocommerce")
    secret = secret.strip()
    if len(secret) < 8:
        raise ValidationError("the signing secret is too short (at least 8 characters)")
    with transaction.atomic():
        locked = Site.objects.select_for_update().get(pk=site.pk)
        if shop_domain:
            domain = normalize_domain(shop_domain)
            if domain not in locked.allowed_domains:
                locked.allowed_domains = sorted({*locked.allowed_domains, domain})
                locked.full_clean()
                locked.save(update_fields=["allowed_domains"])
        connection, _ = PlatformConnection.objects.update_or_create(
            site=locked,
            platform=platform,
            defaults={
                "signing_secret": secret,
                "shop_domain": normalize_domain(shop_domain) if shop_domain else "",
                "sms_consent_field": sms_consent_field.strip(),
                "sms_consent_text": sms_consent_text.strip(),
                "email_consent_field": email_consent_field.strip(),
                "email_consent_text": email_consent_text.strip(),
            },
        )
    return connection
