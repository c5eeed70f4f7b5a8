"""What the gateways keep: inbound messages (every provider), the outbox's messages, and how far
a provider's list of events has been read."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class InboundMessage(models.Model):
    """A customer's SMS to one of our numbers, stored before anything acts on it."""

    provider = models.CharField(max_length=16)
    provider_id = models.CharField(max_length=64)
    sender = models.CharField("from", max_length=32)
    recipient = models.CharField("to", max_length=32)
    body = models.TextField(blank=True)
    opt_out_type = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField()
    reply = models.TextField(blank=True, help_text="What Relance answered, if anything.")
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            # A provider that retries a webhook is answered once.
            models.UniqueConstraint(
                fields=["provider", "provider_id"], name="inbound_provider_id_unique"
            ),
        ]
        indexes = [models.Index(fields=["sender", "received_at"], name="inbound_sender_time")]

    def __str__(self) -> str:
        return f"inbound {self.provider_id}"


class OutboxMessage(models.Model):
    """A message the ``outbox`` backend 'sent': shown on the phone simulator, never delivered."""

    provider_id = models.CharField(max_length=64, unique=True)
    sender = models.CharField("from", max_length=32, blank=True)
    to = models.CharField(max_length=32)
    body = models.TextField()
    status_callback = models.CharField(max_length=2000, blank=True)
    validity_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["to", "created_at"], name="outbox_to_time")]
        constraints = [
            models.CheckConstraint(condition=Q(to__startswith="+"), name="outbox_to_e164"),
        ]

    def __str__(self) -> str:
        return f"outbox {self.provider_id}"


class ProviderCursor(models.Model):
    """How far Relance has read one of a provider's event lists (Brevo's unsubscriptions)."""

    provider = models.CharField(max_length=16)
    stream = models.CharField(max_length=32)
    position = models.DateTimeField(help_text="The time of the latest event read.")
    seen_at_position = models.JSONField(
        default=list,
        blank=True,
        help_text="The events at that very time already read (the next read starts there).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "stream"], name="provider_cursor_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.stream} at {self.position:%Y-%m-%d %H:%M:%S}"


class OutboxEmail(models.Model):
    """An email the email outbox kept on the machine (shown at ``/dev/mail/``), never sent."""

    message_id = models.CharField(
        max_length=255, unique=True, help_text="Its Message-ID, without the angle brackets."
    )
    sender = models.CharField("from", max_length=320)
    to = models.CharField(max_length=2000, help_text="Every recipient, comma-separated.")
    subject = models.CharField(max_length=998, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    headers = models.JSONField(default=list, help_text="Every header, as [name, value] pairs.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["to", "created_at"], name="outbox_email_to_time")]

    def __str__(self) -> str:
        return f"email {self.message_id}"

    def header(self, name: str) -> str:
        """The first header called ``name`` (any case), or empty."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), "")
