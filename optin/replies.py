"""Customers' replies: STOP, START, OUI/YES and HELP, for every site sending from the number.

Registered with the gateways as the inbound handler: the real webhook and the phone
simulator both come here. The message itself is already stored by the gateway; an ordinary
message is left for the marketer, with no answer.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from optin.consent import record_consent, revoke
from optin.contacts import get_or_create_contact
from optin.keywords import Keyword, classify
from optin.models import Consent, ConsentSource, ConsentStatus, Contact
from retargeting.channels import Channel
from retargeting.gateways.base import InboundSms
from retargeting.sites.models import Language, Site
from retargeting.sites.senders import sites_sending_from
from retargeting.sms.phones import InvalidPhone

TEXT = {
    Language.FR: {
        Keyword.STOP: "{shops} : vous ne recevrez plus de SMS. Répondez START pour vous réabonner.",
        Keyword.START: "{shops} : vous recevrez de nouveau nos SMS. Répondez STOP pour vous "
        "désabonner.",
        Keyword.YES: "{shops} : merci, votre inscription aux SMS est confirmée. Répondez STOP "
        "pour vous désabonner.",
        Keyword.HELP: "{shops} : rappels de panier par SMS. Répondez STOP pour ne plus en "
        "recevoir.",
    },
    Language.EN: {
        Keyword.STOP: "{shops}: you will get no more texts. Reply START to subscribe again.",
        Keyword.START: "{shops}: you will get our texts again. Reply STOP to opt out.",
        Keyword.YES: "{shops}: thank you, your subscription is confirmed. Reply STOP to opt out.",
        Keyword.HELP: "{shops}: cart reminders by text. Reply STOP to opt out.",
    },
}


def _answer(keyword: Keyword, contacts: list[Contact]) -> str | None:
    if not contacts:
        return None
    names = ", ".join(sorted({contact.site.name for contact in contacts}))
    language = Language(contacts[0].site.language)
    return TEXT[language][keyword].format(shops=names)


def handle_reply(sms: InboundSms) -> str | None:
    """Act on a customer's reply; return the one answer to send, if any."""
    keyword = classify(sms.body, provider_type=sms.opt_out_type)
    if keyword is None:
        return None
    sites = sites_sending_from(sms.recipient)
    contacts = list(
        Contact.objects.filter(site__in=sites, phone=sms.sender)
        .select_related("site")
        .order_by(F("last_messaged_at").desc(nulls_last=True), "pk")
    )
    if keyword is Keyword.HELP:
        return _answer(Keyword.HELP, contacts[:1])  # the site that last messaged the number
    if keyword is Keyword.YES:
        answered = _confirmation_answered(contacts)
        if answered is not None:
            # OUI answers the latest confirmation SMS this sender sent the number, and only
            # that one: another shop's pending opt-in is not confirmed by it.
            contacts = [answered]
    changed: list[tuple[Contact, ConsentStatus]] = []
    with transaction.atomic():
        for contact in contacts:
            # Decided on the locked row: a STOP and an OUI a second apart are taken in turn.
            contact.consent_status = (
                Contact.objects.select_for_update()
                .values_list("consent_status", flat=True)
                .get(pk=contact.pk)
            )
            status = _next_status(keyword, contact)
            if status == ConsentStatus.REVOKED:
                _stop(contact, sms)
                changed.append((contact, status))
            elif status is not None:
                # START and OUI touch the SMS consent only: never the contact's email consent.
                record_consent(
                    contact=contact,
                    status=status,
                    source=ConsentSource.KEYWORD,
                    text=sms.body[:500],
                    inbound_message_id=sms.provider_id,
                )
                changed.append((contact, status))
        if keyword is Keyword.STOP:
            _stop_where_unknown(
                sms, [site for site in sites if site.pk not in {c.site_id for c in contacts}]
            )
    if not changed:
        return None  # nothing changed (a second STOP, START without consent): no answer
    statuses = {status for _, status in changed}
    answer = (
        Keyword.STOP
        if ConsentStatus.REVOKED in statuses
        else Keyword.YES
        if ConsentStatus.CONFIRMED in statuses
        else Keyword.START
    )
    return _answer(answer, [contact for contact, _ in changed])


def _stop_where_unknown(sms: InboundSms, sites: list[Site]) -> None:
    """A STOP to a sender holds for every shop sending from it, those that never knew the
    number included: each keeps it as a contact that said STOP, so that no page can enrol it
    later (only the number itself, with START, or a shop's server can give consent again)."""
    for site in sites:
        try:
            contact, _ = get_or_create_contact(site=site, raw_phone=sms.sender)
        except InvalidPhone:
            return  # not a mobile number any shop could message
        _stop(contact, sms)


def _stop(contact: Contact, sms: InboundSms) -> None:
    """A STOP revokes the number's SMS consent (its email consent is the address's own)."""
    revoke(
        contact=contact,
        channel=Channel.SMS,
        source=ConsentSource.KEYWORD,
        text=sms.body[:500],
        inbound_message_id=sms.provider_id,
    )


def _next_status(keyword: Keyword, contact: Contact) -> ConsentStatus | None:
    current = contact.consent_status
    if keyword is Keyword.STOP:
        return ConsentStatus.REVOKED if current != ConsentStatus.REVOKED else None
    if keyword is Keyword.YES and current == ConsentStatus.PENDING:
        # Only an opt-in whose confirmation SMS went out can be answered.
        return ConsentStatus.CONFIRMED if contact.confirmation_sent_at else None
    # START, UNSTOP, OUI, YES: subscribe again only a number that consented before.
    if current == ConsentStatus.REVOKED and _consented_before(contact):
        return ConsentStatus.GRANTED
    return None


def _confirmation_answered(contacts: list[Contact]) -> Contact | None:
    """The pending contact whose confirmation SMS went out last, of those the reply may answer."""
    asked = [
        contact
        for contact in contacts
        if contact.consent_status == ConsentStatus.PENDING and contact.confirmation_sent_at
    ]
    return max(asked, key=lambda contact: (contact.confirmation_sent_at, contact.pk), default=None)


def _consented_before(contact: Contact) -> bool:
    """Whether the number ever consented (its own, SMS, history: an email consent never
    implies an SMS one)."""
    return Consent.objects.filter(
        contact=contact,
        channel=Channel.SMS,
        status__in=[ConsentStatus.GRANTED, ConsentStatus.CONFIRMED],
    ).exists()
