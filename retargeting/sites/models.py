"""Sites (tenants) and the marketers who belong to them."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from retargeting.sites import platform_sender
from retargeting.sites.cookie_consent import consent_required_in
from retargeting.sites.domains import normalize_domain, url_on_domains
from retargeting.sites.hours import validate_custom_hours


def validate_country(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            gettext("“%(value)s” is not an ISO 3166 country code known to phonenumbers.")
            % {"value": value}
        )


def validate_countries(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError(gettext('List ISO 3166 country codes, e.g. ["FR", "BE"].'))
    for code in value:
        if not isinstance(code, str):
            raise ValidationError(gettext("“%(value)s” is not a country code.") % {"value": code})
        validate_country(code)


@functools.cache
def _time_zones() -> frozenset[str]:
    # Listing the zones walks the whole time-zone database on disk; a site is checked on
    # every save, the list stays the same while the process runs.
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _time_zones():
        raise ValidationError(gettext("“%(value)s” is not an IANA time zone.") % {"value": value})


def validate_domains(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(gettext("List at least one domain."))
    for domain in value:
        if not isinstance(domain, str) or normalize_domain(domain) != domain:
            raise ValidationError(
                gettext("“%(value)s” is not a bare lower-case host name.") % {"value": domain}
            )


class QuietHours(models.TextChoices):
    """Presets of the hours a site may send marketing SMS, in the recipient's time zone."""

    FR_STRICT = "fr_strict", _("Monday–Saturday 08:00–20:00, no public holidays")
    FR_AF2M = "fr_af2m", _("af2m 2026 charter: 08:00–21:30, Sundays and holidays flagged")
    US_TCPA = "us_tcpa", _("US TCPA: 08:00–21:00 local, with stricter state windows")
    CUSTOM = "custom", _("Custom windows")
    NONE = "none", _("No quiet hours")


class CookieConsent(models.TextChoices):
    """Whether the snippet stores and sends nothing before the visitor's cookie consent."""

    REQUIRED = "required", _("Required: nothing is stored or sent before the visitor consents")
    NOT_REQUIRED = "not_required", _("Not required")

    @classmethod
    def for_country(cls, country: str) -> CookieConsent:
        return cls.REQUIRED if consent_required_in(country) else cls.NOT_REQUIRED


class Language(models.TextChoices):
    FR = "fr", _("Français")
    EN = "en", _("English")


class Site(models.Model):
    """One shop. Every visitor, contact, flow and send belongs to exactly one site."""

    site_path = "pk"  # see retargeting.sites.access

    name = models.CharField(max_length=120, verbose_name=_("name"))
    public_key = models.CharField(
        max_length=40, unique=True, editable=False, verbose_name=_("public key")
    )
    secret_key_hash = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("secret key hash")
    )
    secret_key_hint = models.CharField(
        max_length=8,
        editable=False,
        help_text=_("The last characters of the secret key."),
        verbose_name=_("secret key hint"),
    )
    allowed_domains = models.JSONField(
        default=list,
        validators=[validate_domains],
        help_text=_("Hosts allowed to send events; their subdomains are allowed too."),
        verbose_name=_("allowed domains"),
    )
    country = models.CharField(
        max_length=2, validators=[validate_country], verbose_name=_("country")
    )
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], verbose_name=_("time zone")
    )
    language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.FR, verbose_name=_("language")
    )
    sender = models.CharField(
        max_length=16,
        blank=True,
        help_text=_(
            "The From of this site's SMS: a number or an alphanumeric ID. "
            "Empty: the SMS provider's default sender (TWILIO_FROM, BREVO_SENDER…)."
        ),
        verbose_name=_("sender"),
    )
    stop_number = models.CharField(
        max_length=16,
        blank=True,
        help_text=_("The number customers text STOP to, shown in the SMS's opt-out mention."),
        verbose_name=_("stop number"),
    )
    optin_text = models.TextField(
        blank=True,
        help_text=_(
            "The consent wording next to the box on the hosted opt-in page. "
            "Empty: a default naming the shop."
        ),
        verbose_name=_("optin text"),
    )
    cookie_consent = models.CharField(
        max_length=16,
        choices=CookieConsent.choices,
        blank=True,
        help_text=_(
            "Whether the snippet waits for the visitor's cookie consent (the tag's "
            'data-consent="required"). Empty: from the country, required in the EU and the EEA.'
        ),
        verbose_name=_("cookie consent"),
    )
    email_from = models.CharField(
        _("email sender"),
        max_length=254,
        blank=True,
        default="",
        db_default="",
        help_text=_(
            "The From of this site's emails, \"Name <address>\". Empty: the platform's "
            "DEFAULT_FROM_EMAIL with the shop's name."
        ),
    )
    postal_address = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text=_("The shop's postal address, printed in every marketing email."),
        verbose_name=_("postal address"),
    )
    email_quiet_hours = models.BooleanField(
        _("quiet hours for email"),
        default=True,
        db_default=True,
        help_text=_("Whether marketing emails wait for the allowed hours, as SMS do."),
    )
    cart_url = models.URLField(
        max_length=2000,
        blank=True,
        help_text=_("Where a short link goes when a cart has no URL."),
        verbose_name=_("cart URL"),
    )

    # Sending policy.
    quiet_hours = models.CharField(
        max_length=16,
        choices=QuietHours.choices,
        default=QuietHours.FR_STRICT,
        verbose_name=_("quiet hours"),
    )
    quiet_hours_custom = models.JSONField(
        _("custom quiet hours"),
        default=dict,
        blank=True,
        validators=[validate_custom_hours],
        help_text=_(
            'With the custom preset: {"windows": [{"days": ["mon", "tue", "wed", '
            '"thu", "fri"], "start": "09:00", "end": "19:00"}], "holidays": false}'
        ),
    )
    cap_per_24h = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Marketing SMS per contact per 24 hours."),
        verbose_name=_("cap per 24h"),
    )
    cap_per_7d = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text=_("Marketing SMS per contact per 7 days."),
        verbose_name=_("cap per 7d"),
    )
    stale_after_hours = models.PositiveSmallIntegerField(
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(720)],
        help_text=_(
            "A reminder that cannot go out this long after the cart's last change is dropped."
        ),
        verbose_name=_("stale after hours"),
    )
    double_opt_in = models.BooleanField(
        default=True,
        help_text=_(
            "Numbers typed in the shop's pages must confirm by SMS before any "
            "marketing message. Turning it off lets anyone enrol someone else's number."
        ),
        verbose_name=_("double opt-in"),
    )
    # Against "SMS pumping": an identify typed in a page must not buy SMS for a stranger.
    enrol_countries = models.JSONField(
        _("countries the snippet may enrol"),
        default=list,
        blank=True,
        validators=[validate_countries],
        help_text=_(
            "Countries (ISO 3166) whose numbers the snippet and the hosted page may "
            'enrol, e.g. ["FR", "BE"]. Empty: the site\'s own country. The shop\'s server API '
            "may identify any country's numbers."
        ),
    )
    confirmations_per_day = models.PositiveIntegerField(
        default=200,
        validators=[MinValueValidator(1)],
        help_text=_("Double opt-in confirmation SMS per day for this site (its time zone)."),
        verbose_name=_("confirmations per day"),
    )
    confirmations_per_ip_per_day = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_("Confirmation SMS per day asked from one client address."),
        verbose_name=_("confirmations per ip per day"),
    )
    confirmations_per_visitor_per_day = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text=_("Confirmation SMS per day asked from one browser (visitor id)."),
        verbose_name=_("confirmations per visitor per day"),
    )
    attribution_window_days = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        verbose_name=_("attribution window days"),
    )
    link_ttl_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        verbose_name=_("link ttl days"),
    )

    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["name"]
        constraints = [
            # A sender (number or ID) is one shop's: replies and STOPs to it are that shop's.
            # Empty means the platform's default sender, shared.
            models.UniqueConstraint(
                Lower("sender"), condition=~Q(sender=""), name="site_sender_unique"
            ),
            models.CheckConstraint(
                condition=Q(quiet_hours__in=QuietHours.values), name="site_quiet_hours_known"
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="site_language_known"
            ),
            # Empty: the country's default (rows written without the model, as migrations do).
            models.CheckConstraint(
                condition=Q(cookie_consent__in=["", *CookieConsent.values]),
                name="site_cookie_consent_known",
            ),
            models.CheckConstraint(
                condition=Q(cap_per_24h__gte=1) & Q(cap_per_7d__gte=F("cap_per_24h")),
                name="site_caps_coherent",
                violation_error_code="caps_coherent",
                violation_error_message=_(
                    "The cap over 7 days must be at least the cap over 24 hours."
                ),
            ),
            models.CheckConstraint(
                condition=Q(stale_after_hours__gte=1, stale_after_hours__lte=720),
                name="site_stale_after_hours_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._default_cookie_consent()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Before the constraints are checked: an empty choice means the country's default.
        self._default_cookie_consent()
        if self.sender and (
            Site.objects.exclude(pk=self.pk).filter(sender__iexact=self.sender).exists()
        ):
            raise ValidationError(
                {"sender": _("Another site sends as this sender: each sender is one shop's.")}
            )
        if self.quiet_hours == QuietHours.CUSTOM and not self.quiet_hours_custom:
            raise ValidationError(
                {"quiet_hours_custom": _("The custom preset needs at least one window.")}
            )

    def _default_cookie_consent(self) -> None:
        if not self.cookie_consent:
            self.cookie_consent = CookieConsent.for_country(self.country or "")

    @property
    def home_url(self) -> str:
        """Where a link goes when its own target cannot be used: the shop's cart page if it
        is on the site's domains, else the home page of its first domain."""
        if self.cart_url and url_on_domains(self.cart_url, self.allowed_domains):
            return self.cart_url
        return f"https://{self.allowed_domains[0]}/"

    @property
    def zone_info(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def countries(self) -> tuple[str, ...]:
        """The countries whose numbers the snippet and the hosted page may enrol."""
        return tuple(self.enrol_countries or [self.country])

    @property
    def cookie_consent_required(self) -> bool:
        """Whether the snippet's tag must say ``data-consent="required"``."""
        if not self.cookie_consent:
            return consent_required_in(self.country or "")
        return self.cookie_consent == CookieConsent.REQUIRED

    def owns_url(self, url: str) -> bool:
        """Whether ``url`` is http(s) on one of the site's domains (subdomains included)."""
        return url_on_domains(url, self.allowed_domains)

    @property
    def effective_sender(self) -> str:
        """The From this site's messages use: its own, else the configured SMS provider's
        default sender (``Gateway.default_sender()``)."""
        return self.sender or platform_sender.default_sender()


class Membership(models.Model):
    """A user's access to a site. Marketers see only the sites they are a member of."""

    site_path = "site"  # see retargeting.sites.access

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MARKETER = "marketer", _("Marketer")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("site")
    )
    role = models.CharField(
        max_length=16, choices=Role.choices, default=Role.MARKETER, verbose_name=_("role")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="membership_user_site_unique"),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "marketer"]), name="membership_role_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.site}"
