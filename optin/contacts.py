"""Contacts: one per site and number."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q

from optin.models import Contact
from retargeting.sites.models import Site
from retargeting.sms.phones import parse_phone


def get_or_create_contact(
    *, site: Site, raw_phone: str, first_name: str = ""
) -> tuple[Contact, bool]:
    """The site's contact for ``raw_phone``, created if new. Raises ``InvalidPhone``.

    A first name given later fills in a missing one but never overwrites one.
    """
    phone = parse_phone(raw_phone, default_region=site.country)
    first_name = first_name.strip()[:80]
    try:
        with transaction.atomic():
            contact, created = Contact.objects.get_or_create(
                site=site,
                phone=phone.e164,
                defaults={"first_name": first_name, "region": phone.region},
            )
    except IntegrityError:
        # Another request created it between our read and our insert.
        contact, created = Contact.objects.get(site=site, phone=phone.e164), False
    if not created and first_name and not contact.first_name:
        contact.first_name = first_name
        contact.save(update_fields=["first_name", "updated_at"])
    return contact, created


def mark_all_messaged(*, contact_ids: Collection[int], at: datetime) -> None:
    """:func:`mark_messaged` for the contacts of a batch, in one query."""
    if not contact_ids:
        return
    Contact.objects.filter(
        Q(last_messaged_at__isnull=True) | Q(last_messaged_at__lt=at), pk__in=list(contact_ids)
    ).update(last_messaged_at=at)


def mark_messaged(*, contact_id: int | None, at: datetime) -> None:
    """Record that the provider took an SMS to the contact at ``at`` (a reminder, a
    confirmation): HELP answers name the shop that last messaged a number, and retention
    counts from it. A later time only: a late reconciliation never moves it back."""
    if contact_id is None:
        return
    Contact.objects.filter(
        Q(last_messaged_at__isnull=True) | Q(last_messaged_at__lt=at), pk=contact_id
    ).update(last_messaged_at=at)


def get_or_create_email_contact(
    *, site: Site, email: str, beside: Contact | None = None, first_name: str = ""
) -> tuple[Contact, bool]:
    """The site's contact for the normalised ``email``, created if new.

    ``beside``: the contact of the number given with it, which takes the address when it has
    none and no other contact has it (the gate decides when a door may ask this). An address
    alone is a contact without a number, of the site's country.
    """
    first_name = first_name.strip()[:80]
    found = Contact.objects.filter(site=site, email=email).first()
    if found is not None:
        return found, False
    if beside is not None and not beside.email:
        try:
            with transaction.atomic():
                if Contact.objects.filter(pk=beside.pk, email="").update(email=email):
                    beside.email = email
                    return beside, False
        except IntegrityError:
            pass  # another request gave the address a contact meanwhile
        found = Contact.objects.filter(site=site, email=email).first()
        if found is not None:
            return found, False
    try:
        with transaction.atomic():
            return Contact.objects.get_or_create(
                site=site,
                email=email,
                defaults={"first_name": first_name, "region": site.country},
            )
    except IntegrityError:
        return Contact.objects.get(site=site, email=email), False


def names_of_addresses(channel: str, addresses: list[str]) -> dict[str, str]:
    """``{address: "Marie (Shop)"}`` for the simulators (``retargeting.gateways.hooks``): the
    confirmed first name of each contact with that number (``channel="sms"``) or email address,
    and its shop's name; several shops' contacts joined. One query."""
    field = "phone" if channel == "sms" else "email"
    rows = (
        Contact.objects.filter(**{f"{field}__in": [a for a in addresses if a]})
        .order_by("site__name", "pk")
        .values_list(field, "first_name", "site__name")
    )
    found: dict[str, list[str]] = {}
    for address, first_name, shop in rows:
        label = f"{first_name} ({shop})" if first_name else f"({shop})"
        found.setdefault(address, []).append(label)
    return {address: ", ".join(labels) for address, labels in found.items()}
