"""What the gateways keep: inbound messages (every provider) and the outbox's messages."""

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
