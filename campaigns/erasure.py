"""What an erasure removes from the campaign data: the contact's sends, with their short
links, clicks and history, its opt-out links, the outbox's copies of their messages, and the
phone and email of its orders."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.dispatch import receiver

from campaigns.models import OptOutLink, Order, Send
from optin.models import Contact
from optin.signals import contact_erasing
from retargeting.gateways.models import OutboxMessage


@receiver(contact_erasing, dispatch_uid="campaigns.erasure.delete_sends")
def delete_sends(*, contact_id: int, site_id: int, **kwargs: Any) -> None:
    """The sends go (their short links, clicks and history by cascade). The conversions they
    led to stay, linked to nothing: orders the shop made, no longer counted as recovered."""
    sends = Send.objects.filter(site_id=site_id, contact_id=contact_id)
    provider_ids = [pid for pid in sends.values_list("provider_id", flat=True) if pid]
    OutboxMessage.objects.filter(provider_id__in=provider_ids).delete()
    OptOutLink.objects.filter(site_id=site_id, contact_id=contact_id).delete()
    sends.delete()


@receiver(contact_erasing, dispatch_uid="campaigns.erasure.forget_order_addresses")
def forget_order_addresses(*, contact_id: int, site_id: int, **kwargs: Any) -> None:
    """The contact's orders (its own, and any given with its number or address) lose the
    phone and the email: what the shop sold stays, nobody's address with it."""
    contact = Contact.objects.filter(pk=contact_id).values_list("phone", "email").first()
    found = Q(contact_id=contact_id)
    if contact is not None:
        phone, email = contact
        if phone:
            found |= Q(phone=phone)
        if email:
            found |= Q(email=email)
    Order.objects.filter(found, site_id=site_id).update(phone="", email="", contact=None)
