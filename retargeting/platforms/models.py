"""A site's connection to its shop platform's webhooks (Shopify, WooCommerce)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse

from retargeting.sites.models import Site


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


class PlatformConnection(models.Model):
    """Where a platform posts its webhooks for one site, and the secret they are signed with."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="platforms")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    signing_secret = models.CharField(
        max_length=255,
        help_text="The secret the platform signs its webhooks with (Shopify: shown under "
        "Settings → Notifications → Webhooks; WooCommerce: the webhook's secret).",
    )
    token = models.CharField(
        "URL token", max_length=64, unique=True, default=new_token, editable=False
    )
    shop_domain = models.CharField(max_length=253, blank=True)
    sms_consent_field = models.CharField(
        "SMS consent field",
        max_length=128,
        blank=True,
        help_text="WooCommerce: the order meta key of the checkout's SMS consent checkbox. "
        "Without it an order's number is kept, never given consent.",
    )
    sms_consent_text = models.TextField(
        "SMS consent wording",
        blank=True,
        help_text="The exact wording shown next to that checkbox, kept as the consent's proof.",
    )
    email_consent_field = models.CharField(
        "email consent field",
        max_length=128,
        blank=True,
        default="",
        db_default="",
        help_text="WooCommerce: the order meta key of the checkout's email marketing checkbox. "
        "Without it an order's email address is never given consent.",
    )
    email_consent_text = models.TextField(
        "email consent wording",
        blank=True,
        default="",
        db_default="",
        help_text="The exact wording shown next to that checkbox, kept as the consent's proof.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "platform"], name="platform_one_per_site"),
            models.CheckConstraint(
                condition=models.Q(platform__in=["shopify", "woocommerce"]),
                name="platform_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} → {self.site}"

    @property
    def webhook_url(self) -> str:
        path = reverse("platform-webhook", args=[self.platform, self.token])
        return f"{settings.PUBLIC_BASE_URL}{path}"


class PlatformDelivery(models.Model):
    """A webhook delivery already handled: a platform that delivers it again is answered 200
    and nothing happens twice (Shopify's ``X-Shopify-Webhook-Id``)."""

    site_path = "connection__site"  # see retargeting.sites.access

    connection = models.ForeignKey(
        PlatformConnection, on_delete=models.CASCADE, related_name="deliveries"
    )
    delivery_id = models.CharField(max_length=128)
    topic = models.CharField(max_length=64)
    outcome = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "delivery_id"], name="platform_delivery_once"
            ),
        ]
        indexes = [models.Index(fields=["received_at"], name="platform_delivery_time")]

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"
