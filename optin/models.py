"""Contacts, their append-only consent history, and which visitors they own."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from retargeting.channels import Channel
from retargeting.sites.models import Site
from retargeting.sms.phones import mask, mask_email
from retargeting.tracking.models import Visitor


class ConsentStatus(models.TextChoices):
    """The states a consent row records. A contact's current state is its latest row's."""

    PENDING = "pending", _("Pending confirmation")
    GRANTED = "granted", _("Granted")
    CONFIRMED = "confirmed", _("Confirmed")
    REVOKED = "revoked", _("Revoked")


class ConsentSource(models.TextChoices):
    SNIPPET = "snippet", _("Checkout (snippet)")
    SERVER_API = "server_api", _("Shop server API")
    HOSTED_FORM = "hosted_form", _("Hosted opt-in page")
    CSV_IMPORT = "csv_import", _("CSV import")
    KEYWORD = "keyword", _("SMS keyword")
    ADMIN = "admin", _("Admin")
    PROVIDER = "provider", _("SMS provider")
    CONFIRMATION_LINK = "link", _("Confirmation link")
    OPT_OUT_LINK = "optout_link", _("Opt-out link")
    SHOPIFY = "shopify", _("Shopify checkout (the shopper's claim)")
    WOOCOMMERCE = "woocommerce", _("WooCommerce checkout (the shopper's claim)")
    UNSUBSCRIBE = "unsubscribe", _("Email unsubscribe (one click)")
    EMAIL_PROVIDER = "email_provider", _("Email provider (bounce, complaint, unsubscribe)")
    DASHBOARD = "dashboard", _("Unsubscribed by hand in the dashboard")


OPT_OUT_SOURCES = frozenset(
    {
        ConsentSource.KEYWORD,
        ConsentSource.PROVIDER,
        ConsentSource.OPT_OUT_LINK,
        ConsentSource.UNSUBSCRIBE,
        ConsentSource.EMAIL_PROVIDER,
        ConsentSource.DASHBOARD,
    }
)
"""A revocation from these is the address's own opt-out (a STOP, an unsubscribe, a provider's
report of one, a member of the shop unsubscribing it by hand at its owner's request): erased
after it, the address stays blocked on that channel (optin.erasure)."""


class Contact(models.Model):
    """A person a site may be allowed to message, by their addresses: a phone number in E.164
    and/or an email address, each with its own consent (``consent_status`` is the SMS one,
    ``email_consent_status`` the email one; SMS consent never implies email consent)."""

    site_path = "site"  # see retargeting.sites.access

    NO_CONSENT = "none"

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("site")
    )
    phone = models.CharField(_("phone (E.164)"), max_length=16, blank=True)
    email = models.CharField(
        _("email address"),
        max_length=254,
        blank=True,
        default="",
        db_default="",
        help_text=_("Normalised (optin.addresses); empty when the contact has none."),
    )
    first_name = models.CharField(max_length=80, blank=True, verbose_name=_("first name"))
    claimed_first_name = models.CharField(
        max_length=80,
        blank=True,
        default="",
        # In the table too: processes of the previous release, still running while a deploy
        # migrates, create contacts without this column.
        db_default="",
        help_text=_(
            "A first name typed at a checkout or in a page: used only once the number's "
            "owner confirmed (then it becomes the first name)."
        ),
        verbose_name=_("claimed first name"),
    )
    region = models.CharField(
        max_length=2,
        help_text=_(
            "The country the number belongs to (ISO 3166); the site's for an email address alone."
        ),
        verbose_name=_("region"),
    )
    # A copy of the latest consent row's status, written only by optin.consent in the same
    # transaction as the row, so the dispatch pass can filter on it with an index.
    consent_status = models.CharField(
        max_length=16,
        choices=[(NO_CONSENT, _("No consent")), *ConsentStatus.choices],
        default=NO_CONSENT,
        editable=False,
        verbose_name=_("consent status"),
    )
    email_consent_status = models.CharField(
        max_length=16,
        choices=[(NO_CONSENT, _("No consent")), *ConsentStatus.choices],
        default=NO_CONSENT,
        db_default=NO_CONSENT,
        editable=False,
        verbose_name=_("email consent status"),
    )
    unreachable_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Set when the provider reports the number unreachable."),
        verbose_name=_("unreachable at"),
    )
    email_unreachable_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Set when the email provider reports the address unreachable (hard bounce)."),
        verbose_name=_("email unreachable at"),
    )
    last_emailed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When this site last sent the address an email."),
        verbose_name=_("last emailed at"),
    )
    email_confirmation_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the double opt-in confirmation email went out."),
        verbose_name=_("email confirmation sent at"),
    )
    email_confirmation_handed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When the confirmation email was handed to the provider (written before the "
            "call): one claimed but never handed over is sent again."
        ),
        verbose_name=_("email confirmation handed at"),
    )
    first_consented_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "When the number's consent first went live (granted, or confirmed by its "
            "owner); never reset, a STOP then a START keeps it: the welcome's moment."
        ),
        verbose_name=_("first consented at"),
    )
    email_first_consented_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the address's email consent first went live; never reset."),
        verbose_name=_("email first consented at"),
    )
    last_messaged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When this site last sent the number an SMS."),
        verbose_name=_("last messaged at"),
    )
    confirmation_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the double opt-in confirmation SMS went out."),
        verbose_name=_("confirmation sent at"),
    )
    confirmation_code = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text=_("The code of the confirmation link in that SMS (another way to answer OUI)."),
        verbose_name=_("confirmation code"),
    )
    confirmation_handed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When the confirmation SMS was handed to the provider (written before the "
            "call): one claimed but never handed over is sent again."
        ),
        verbose_name=_("confirmation handed at"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "phone"], condition=~Q(phone=""), name="contact_site_phone_unique"
            ),
            models.UniqueConstraint(
                fields=["site", "email"], condition=~Q(email=""), name="contact_site_email_unique"
            ),
            models.CheckConstraint(
                condition=~Q(phone="") | ~Q(email=""), name="contact_has_an_address"
            ),
            models.UniqueConstraint(
                fields=["confirmation_code"],
                condition=~Q(confirmation_code=""),
                name="contact_confirmation_code_unique",
            ),
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__startswith="+"), name="contact_phone_e164"
            ),
            models.CheckConstraint(
                condition=Q(consent_status__in=["none", *ConsentStatus.values]),
                name="contact_consent_status_known",
            ),
            models.CheckConstraint(
                condition=Q(email_consent_status__in=["none", *ConsentStatus.values]),
                name="contact_email_consent_status_known",
            ),
        ]
        indexes = [
            models.Index(fields=["site", "consent_status"], name="contact_site_consent"),
            models.Index(
                fields=["site", "email_consent_status"], name="contact_site_email_consent"
            ),
            # The welcome's candidates: a site's contacts subscribed in a window.
            models.Index(fields=["site", "first_consented_at"], name="contact_site_first_consent"),
            models.Index(
                fields=["site", "email_first_consented_at"], name="contact_site_first_email"
            ),
        ]

    def __str__(self) -> str:
        return mask(self.phone) if self.phone else mask_email(self.email)


class ConsentQuerySet(models.QuerySet["Consent"]):
    """Consent rows are never changed: only erasure (RGPD) removes them."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("Consent rows are append-only.")

    def delete(self) -> NoReturn:
        raise TypeError("Consent rows are append-only; erase the contact instead.")

    def erase(self) -> int:
        """Remove the rows for an erasure request; the only way consent rows disappear."""
        return self._raw_delete(self.db)


class Consent(models.Model):
    """One change of a contact's consent for one channel (its phone for SMS, its email address
    for email), with its proof. Append-only."""

    site_path = "contact__site"  # see retargeting.sites.access

    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="consents", verbose_name=_("contact")
    )
    channel = models.CharField(
        max_length=8,
        choices=Channel.choices,
        default=Channel.SMS,
        db_default=Channel.SMS,
        verbose_name=_("channel"),
    )
    status = models.CharField(
        max_length=16, choices=ConsentStatus.choices, verbose_name=_("status")
    )
    source = models.CharField(
        max_length=16, choices=ConsentSource.choices, verbose_name=_("source")
    )
    text = models.TextField(_("wording shown"), blank=True)
    ip = models.GenericIPAddressField(_("truncated IP"), null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, verbose_name=_("user agent"))
    inbound_message_id = models.CharField(
        max_length=64, blank=True, verbose_name=_("inbound message id")
    )
    recorded_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
        db_default="",
        verbose_name=_("recorded by"),
        help_text=_(
            "The member of the shop who recorded the change by hand (their user name, "
            "kept as written then); empty for every other source."
        ),
    )
    reason = models.TextField(
        blank=True,
        default="",
        db_default="",
        verbose_name=_("reason"),
        help_text=_("Why it was recorded by hand, in the member's words."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))

    objects = ConsentQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ConsentStatus.values), name="consent_status_known"
            ),
            models.CheckConstraint(
                condition=Q(source__in=ConsentSource.values), name="consent_source_known"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="consent_channel_known"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(status)s via %(source)s at %(at)s") % {
            "status": self.get_status_display(),
            "source": self.get_source_display(),
            "at": f"{self.created_at:%Y-%m-%d %H:%M}",
        }

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Consent rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Consent rows are append-only; erase the contact instead.")


class VisitorLink(models.Model):
    """Which contact a visitor (a browser on one site) belongs to: at most one."""

    site_path = "contact__site"  # see retargeting.sites.access

    class Method(models.TextChoices):
        SERVER = "server", _("Shop server (authenticated)")
        SNIPPET = "snippet", _("Snippet identify")
        TOKEN = "token", _("Short-link token")

    visitor = models.OneToOneField(
        Visitor, on_delete=models.CASCADE, related_name="contact_link", verbose_name=_("visitor")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="visitor_links", verbose_name=_("contact")
    )
    method = models.CharField(max_length=16, choices=Method.choices, verbose_name=_("method"))
    linked_at = models.DateTimeField(verbose_name=_("linked at"))

    class Meta:
        verbose_name = _("visitor link")
        verbose_name_plural = _("visitor links")
        constraints = [
            models.CheckConstraint(
                condition=Q(method__in=["server", "snippet", "token"]), name="link_method_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.visitor} → {self.contact}"


class DoNotContact(models.Model):
    """An address (a number, or an email address) erased after it opted out: only a keyed
    hash remains, so it is never messaged again on that channel, whatever later asks for it
    (an import, a checkout, the shop's server)."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="do_not_contact", verbose_name=_("site")
    )
    channel = models.CharField(
        max_length=8,
        choices=Channel.choices,
        default=Channel.SMS,
        db_default=Channel.SMS,
        verbose_name=_("channel"),
    )
    phone_hash = models.CharField(
        _("address hash"), max_length=64, help_text=_("The keyed hash of the number or address.")
    )
    reason = models.CharField(max_length=16, verbose_name=_("reason"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("do-not-contact entry")
        verbose_name_plural = _("do-not-contact entries")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "channel", "phone_hash"], name="dnc_site_hash_unique"
            ),
        ]

    def __str__(self) -> str:
        return gettext("do not contact (%(reason)s)") % {"reason": self.reason}


class UsedToken(models.Model):
    """A contact token (``optin.tokens``) already honoured: each is honoured once, so a link
    copied from the address bar and posted for others links none of their browsers."""

    nonce = models.CharField(max_length=32, unique=True, verbose_name=_("nonce"))
    used_at = models.DateTimeField(db_index=True, verbose_name=_("used at"))

    class Meta:
        verbose_name = _("used token")
        verbose_name_plural = _("used tokens")

    def __str__(self) -> str:
        return gettext("token used at %(at)s") % {"at": f"{self.used_at:%Y-%m-%d %H:%M}"}
