"""A site's connection to its shop platform's webhooks (Shopify, WooCommerce)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from retargeting.sites.models import Site


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Platform(models.TextChoices):
    SHOPIFY = "shopify", _("Shopify")
    WOOCOMMERCE = "woocommerce", _("WooCommerce")


class PlatformConnection(models.Model):
    """Where a platform posts its webhooks for one site, and the secret they are signed with."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="platforms", verbose_name=_("site")
    )
    platform = models.CharField(max_length=16, choices=Platform.choices, verbose_name=_("platform"))
    signing_secret = models.CharField(
        max_length=255,
        help_text=_(
            "The secret the platform signs its webhooks with (Shopify: shown under "
            "Settings → Notifications → Webhooks; WooCommerce: the webhook's secret)."
        ),
        verbose_name=_("signing secret"),
    )
    token = models.CharField(
        _("URL token"), max_length=64, unique=True, default=new_token, editable=False
    )
    shop_domain = models.CharField(max_length=253, blank=True, verbose_name=_("shop domain"))
    sms_consent_field = models.CharField(
        _("SMS consent field"),
        max_length=128,
        blank=True,
        help_text=_(
            "WooCommerce: the order meta key of the checkout's SMS consent checkbox. "
            "Without it an order's number is kept, never given consent."
        ),
    )
    sms_consent_text = models.TextField(
        _("SMS consent wording"),
        blank=True,
        help_text=_("The exact wording shown next to that checkbox, kept as the consent's proof."),
    )
    email_consent_field = models.CharField(
        _("email consent field"),
        max_length=128,
        blank=True,
        default="",
        db_default="",
        help_text=_(
            "WooCommerce: the order meta key of the checkout's email marketing checkbox. "
            "Without it an order's email address is never given consent."
        ),
    )
    email_consent_text = models.TextField(
        _("email consent wording"),
        blank=True,
        default="",
        db_default="",
        help_text=_("The exact wording shown next to that checkbox, kept as the consent's proof."),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("platform connection")
        verbose_name_plural = _("platform connections")
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
        PlatformConnection,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("connection"),
    )
    delivery_id = models.CharField(max_length=128, verbose_name=_("delivery id"))
    topic = models.CharField(max_length=64, verbose_name=_("topic"))
    outcome = models.CharField(max_length=64, verbose_name=_("outcome"))
    received_at = models.DateTimeField(verbose_name=_("received at"))

    class Meta:
        verbose_name = _("platform delivery")
        verbose_name_plural = _("platform deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "delivery_id"], name="platform_delivery_once"
            ),
        ]
        indexes = [models.Index(fields=["received_at"], name="platform_delivery_time")]

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"
