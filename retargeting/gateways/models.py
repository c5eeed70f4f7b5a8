"""What the gateways keep: inbound messages (every provider), the outbox's messages, and how far
a provider's list of events has been read."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class InboundMessage(models.Model):
    """A customer's SMS to one of our numbers, stored before anything acts on it."""

    provider = models.CharField(max_length=16, verbose_name=_("provider"))
    provider_id = models.CharField(max_length=64, verbose_name=_("provider id"))
    sender = models.CharField(_("from"), max_length=32)
    recipient = models.CharField(_("to"), max_length=32)
    body = models.TextField(blank=True, verbose_name=_("body"))
    opt_out_type = models.CharField(max_length=16, blank=True, verbose_name=_("opt-out type"))
    received_at = models.DateTimeField(verbose_name=_("received at"))
    reply = models.TextField(
        blank=True, help_text=_("What Relance answered, if anything."), verbose_name=_("reply")
    )
    handled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("handled at"))

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ["received_at", "id"]
        constraints = [
            # A provider that retries a webhook is answered once.
            models.UniqueConstraint(
                fields=["provider", "provider_id"], name="inbound_provider_id_unique"
            ),
        ]
        indexes = [models.Index(fields=["sender", "received_at"], name="inbound_sender_time")]

    def __str__(self) -> str:
        return gettext("inbound %(id)s") % {"id": self.provider_id}


class OutboxMessage(models.Model):
    """A message the ``outbox`` backend 'sent': shown on the phone simulator, never delivered."""

    provider_id = models.CharField(max_length=64, unique=True, verbose_name=_("provider id"))
    sender = models.CharField(_("from"), max_length=32, blank=True)
    to = models.CharField(max_length=32, verbose_name=_("to"))
    body = models.TextField(verbose_name=_("body"))
    status_callback = models.CharField(
        max_length=2000, blank=True, verbose_name=_("status callback")
    )
    validity_seconds = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("validity seconds")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["to", "created_at"], name="outbox_to_time")]
        constraints = [
            models.CheckConstraint(condition=Q(to__startswith="+"), name="outbox_to_e164"),
        ]

    def __str__(self) -> str:
        return gettext("outbox %(id)s") % {"id": self.provider_id}


class ProviderCursor(models.Model):
    """How far Relance has read one of a provider's event lists (Brevo's unsubscriptions)."""

    provider = models.CharField(max_length=16, verbose_name=_("provider"))
    stream = models.CharField(max_length=32, verbose_name=_("stream"))
    position = models.DateTimeField(
        help_text=_("The time of the latest event read."), verbose_name=_("position")
    )
    seen_at_position = models.JSONField(
        default=list,
        blank=True,
        help_text=_("The events at that very time already read (the next read starts there)."),
        verbose_name=_("seen at position"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("provider cursor")
        verbose_name_plural = _("provider cursors")
        constraints = [
            models.UniqueConstraint(fields=["provider", "stream"], name="provider_cursor_unique"),
        ]

    def __str__(self) -> str:
        return gettext("%(provider)s %(stream)s at %(at)s") % {
            "provider": self.provider,
            "stream": self.stream,
            "at": f"{self.position:%Y-%m-%d %H:%M:%S}",
        }


class OutboxEmail(models.Model):
    """An email the email outbox kept on the machine (shown at ``/dev/mail/``), never sent."""

    message_id = models.CharField(
        max_length=255,
        unique=True,
        help_text=_("Its Message-ID, without the angle brackets."),
        verbose_name=_("message id"),
    )
    sender = models.CharField(_("from"), max_length=320)
    to = models.CharField(
        max_length=2000, help_text=_("Every recipient, comma-separated."), verbose_name=_("to")
    )
    subject = models.CharField(max_length=998, blank=True, verbose_name=_("subject"))
    text = models.TextField(blank=True, verbose_name=_("text"))
    html = models.TextField(blank=True, verbose_name=_("HTML"))
    headers = models.JSONField(
        default=list,
        help_text=_("Every header, as [name, value] pairs."),
        verbose_name=_("headers"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("outbox email")
        verbose_name_plural = _("outbox emails")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["to", "created_at"], name="outbox_email_to_time")]

    def __str__(self) -> str:
        return f"email {self.message_id}"

    def header(self, name: str) -> str:
        """The first header called ``name`` (any case), or empty."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), "")
