"""The gate: the one place that decides what an identity or a consent claim may change.

Every door hands its identify here with the kind of proof behind it (``Proof``): the snippet,
the pixel and the hosted page (claims), the server API (the shop's server), the platforms'
webhooks (claims relayed inside a signed body: a checkout's phone, a ticked box, a billing
first name are what a shopper typed), the contact token (the number's owner, who tapped our
link). The rules are written here once; a door never decides them itself:

- **The shop's server** (secret key) is authoritative: it creates the contact, grants consent
  (never after the number was erased following a STOP), and links a browser, re-linking one it
  says belongs to someone else.
- **The owner** (a signed token from our short link) links the browser that opened it.
- **A claim** changes nothing about a number that already has a consent state (pending,
  granted, confirmed, revoked): not its consent, not its first name, not which browsers or
  carts are its own. For a number without one it may start its consent: a double opt-in the
  owner must answer where the site has it (under the anti-pumping limits), the shop's single
  opt-in otherwise; only then is the browser (or the platform's cart) linked to it. A claimed
  first name is kept aside and used only once the owner confirmed. A consent a platform
  relays is kept as the shopper's claim: its source (the platform) and exact wording.
- Whatever a claim names, the door's answer is the same, so nobody learns which numbers a
  shop knows (``enrolment.refuse`` spends the same limits either way).

``optin/gate_table.py`` is the promise per door, kind of proof and state of the number;
docs/consent.md shows it, and tests/optin/test_gate_table.py holds every row through its door.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.dispatch import receiver

from optin import enrolment
from optin.consent import ConsentBlocked, is_live, record_consent, revoke
from optin.contacts import get_or_create_contact, get_or_create_email_contact
from optin.erasure import is_blocked
from optin.matching import Method, enqueue_confirmation, link_visitor
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from optin.tokens import redeem
from retargeting.channels import Channel
from retargeting.sites.models import Site
from retargeting.sms.phones import parse_phone
from retargeting.tracking.models import Visitor
from retargeting.tracking.proofs import Proof
from retargeting.tracking.signals import identify_received

__all__ = ["Proof", "identify"]

logger = logging.getLogger(__name__)

# The platforms whose relayed consent is kept under their own name.
_RELAYED_SOURCES = {
    "shopify": ConsentSource.SHOPIFY,
    "woocommerce": ConsentSource.WOOCOMMERCE,
}


def identify(
    *,
    site: Site,
    visitor: Visitor | None,
    event: dict[str, Any],
    proof: Proof,
    relayed: bool = False,
    ip: str | None = None,
    user_agent: str = "",
    source: str | None = None,
) -> Contact | None:
    """Apply one identify event under the rules above; return the contact it names.

    ``proof``: what vouches for the event's phone, first name and consent. ``relayed``: a
    claim a signed platform webhook carried (no browser, no client address: only the site's
    daily confirmation limit can count it). ``source`` names where the consent was given when
    the door is not the snippet, the server API or a platform (the hosted page).
    """
    if "token" in event:
        return _owner_token(site=site, visitor=visitor, token=event["token"], user_agent=user_agent)
    phone_contact: Contact | None = None
    beside: Contact | None = None  # the contact an address given with the number may join
    if "phone" in event:
        if proof == Proof.SHOP_SERVER:
            phone_contact = beside = _vouched(
                site=site, visitor=visitor, event=event, ip=ip, user_agent=user_agent, source=source
            )
        else:
            phone_contact, created = _claimed(
                site=site,
                visitor=visitor,
                event=event,
                relayed=relayed,
                ip=ip,
                user_agent=user_agent,
                source=source,
            )
            # A claim's address joins only the number this very claim brought in: never one a
            # contact already had (a stranger's address beside a customer's number would get
            # her reminders once the stranger confirmed it).
            beside = phone_contact if created else None
    if "email" not in event:
        return phone_contact
    email_contact = _email(
        site=site,
        # The shop's server's link of the browser to the number stands; a claim's link is
        # judged again (``matching``: it never moves a browser a claim or a server linked).
        visitor=visitor if phone_contact is None or proof != Proof.SHOP_SERVER else None,
        event=event,
        proof=proof,
        beside=beside,
        relayed=relayed,
        ip=ip,
        user_agent=user_agent,
        source=source,
    )
    return phone_contact if "phone" in event and phone_contact is not None else email_contact


def _owner_token(
    *, site: Site, visitor: Visitor | None, token: str, user_agent: str
) -> Contact | None:
    """A signed token from our short link: the browser that tapped it is the number's, once,
    soon after the tap (``optin.tokens``)."""
    if visitor is None:  # nothing to link: the token stays for its browser
        return None
    redeemed = redeem(token, site=site, user_agent=user_agent)
    if redeemed is None:
        return None
    contact = redeemed.contact
    link_visitor(visitor=visitor, contact=contact, method=Method.TOKEN)
    if redeemed.requester_id is not None and not _consents_anywhere(contact):
        # The bridge: the address's owner opened the cart a browser asked to be emailed. The
        # tap proves the tapping browser is theirs; the asking browser is most likely theirs
        # too (their phone), but it typed the address, and a stranger may have: so it is tied
        # only to a contact that has no live consent on any channel (nothing of ours follows
        # its carts before the owner consents from a browser of their own), and as a claim's
        # link, which a later proof replaces.
        requester = Visitor.objects.filter(pk=redeemed.requester_id, site=site).first()
        if requester is not None:
            link_visitor(visitor=requester, contact=contact, method=Method.SNIPPET)
    return contact


def _consents_anywhere(contact: Contact) -> bool:
    """Whether either of the contact's addresses has live consent."""
    return is_live(status=contact.consent_status) or is_live(status=contact.email_consent_status)


def cart_email_recipient(*, site: Site, email: str) -> Contact | None:
    """The contact a browser's cart may be emailed to at its request (the bridge's door,
    ``email_cart``): the address's contact, created without any consent if new. A typed
    address is a claim: no consent is given or changed, no browser is linked (the owner's tap
    on the email's link does that, ``_owner_token``). None for an address erased after it
    opted out (its do-not-contact hash): nothing may be sent to it."""
    if is_blocked(site_id=site.pk, email=email):
        logger.info("site %s: a cart email asked for an address that may not be messaged", site.pk)
        return None
    with transaction.atomic():
        contact, _ = get_or_create_email_contact(site=site, email=email)
    return contact


def order_recipient(
    *,
    site: Site,
    phone: str | None,
    email: str | None,
    proof: Proof,
    visitor: Visitor | None = None,
) -> Contact | None:
    """The contact an order's own messages go to (the orders' door: ``POST /api/v1/orders``,
    the platforms' order webhooks): the contact of the order's number (else of its address),
    created without any consent if new. The phone and email given with an order are where its
    confirmation and shipping messages go, without marketing consent; never one erased after it
    opted out (its do-not-contact hash), and a STOP stands (``eligibility.channel_reason``).

    Nothing here gives or changes a consent. What a platform relays (``Proof.CLAIM``: the
    shopper typed it) links no browser and joins no address to a number, new or known; the
    shop's server (``Proof.SHOP_SERVER``) vouches: the order's browser (``visitor``)
    becomes the number's, and the address joins the number's contact when it has none."""
    contact: Contact | None = None
    if phone and not is_blocked(site_id=site.pk, e164=phone):
        with transaction.atomic():
            contact, _ = get_or_create_contact(site=site, raw_phone=phone)
    if email and not is_blocked(site_id=site.pk, email=email):
        # Only the shop's server joins an address to a number: a platform relays what the
        # shopper typed, and a typed pair would let the address's tap stand for the number.
        beside = contact if proof == Proof.SHOP_SERVER else None
        with transaction.atomic():
            email_contact, _ = get_or_create_email_contact(site=site, email=email, beside=beside)
        contact = contact or email_contact
    if contact is not None and visitor is not None and proof == Proof.SHOP_SERVER:
        link_visitor(visitor=visitor, contact=contact, method=Method.SERVER)
    return contact


@dataclass(frozen=True)
class StockRequester:
    """Who a back-in-stock request is for, and whether the asking side proved the address."""

    contact: Contact
    proven: bool
    """The shop's server vouched, or the asking browser is the address's own (linked by the
    shop's server or by its owner's tap on our link): the request needs no confirmation."""


def stock_request_requester(
    *, site: Site, visitor: Visitor | None, phone: str = "", email: str = "", proof: Proof
) -> StockRequester | None:
    """The back-in-stock door (``back_in_stock`` from a page, ``POST /api/v1/back_in_stock``):
    the contact of the number (E.164) or address (normalised) the request names, created
    without any consent if new. A request is for one message about one product: it never
    gives, changes or implies a marketing consent, and never links a browser (anyone may
    type anyone's number). Whether it needs its owner's confirmation is said by ``proven``.
    None for an address erased after it opted out, or one that said STOP or unsubscribed:
    nothing may be sent to it, not even a confirmation."""
    if is_blocked(site_id=site.pk, e164=phone, email=email):
        logger.info("site %s: a stock request for an address that may not be messaged", site.pk)
        return None
    with transaction.atomic():
        if phone:
            contact, _ = get_or_create_contact(site=site, raw_phone=phone)
        else:
            contact, _ = get_or_create_email_contact(site=site, email=email)
    status = contact.consent_status if phone else contact.email_consent_status
    if status == ConsentStatus.REVOKED:
        logger.info("site %s: a stock request for an address that opted out", site.pk)
        return None
    # A browser linked by the shop's server or by its owner's tap proves the contact; it proves
    # this address only when the address itself is live (confirmed on its own channel): a
    # contact may hold a number and an address, and a tap on the address's email says nothing
    # of the number.
    proven = proof == Proof.SHOP_SERVER or (
        visitor is not None
        and is_live(status=status)
        and VisitorLink.objects.filter(
            visitor=visitor, contact=contact, method__in=[Method.SERVER, Method.TOKEN]
        ).exists()
    )
    return StockRequester(contact=contact, proven=proven)


def _vouched(
    *,
    site: Site,
    visitor: Visitor | None,
    event: dict[str, Any],
    ip: str | None,
    user_agent: str,
    source: str | None,
) -> Contact:
    """The shop's server's word (secret key): it grants and links."""
    with transaction.atomic():
        contact, _ = get_or_create_contact(
            site=site, raw_phone=event["phone"], first_name=event.get("first_name", "")
        )
        consent = event.get("consent") or {}
        if consent.get("granted") and not is_live(status=contact.consent_status):
            try:
                record_consent(
                    contact=contact,
                    status=ConsentStatus.GRANTED,
                    source=source or ConsentSource.SERVER_API,
                    text=consent.get("text", ""),
                    ip=ip,
                    user_agent=user_agent,
                )
            except ConsentBlocked:
                logger.info("consent refused: the number said STOP before it was erased")
        if visitor is not None:
            link_visitor(visitor=visitor, contact=contact, method=Method.SERVER)
    return contact


def _claimed(
    *,
    site: Site,
    visitor: Visitor | None,
    event: dict[str, Any],
    relayed: bool,
    ip: str | None,
    user_agent: str,
    source: str | None,
) -> tuple[Contact | None, bool]:
    """What a shopper typed (a page, or a platform's checkout relayed by its webhook); the
    contact it names, and whether this claim created it (only then may an address typed with
    it join it: ``identify``)."""
    consent = event.get("consent") or {}
    immediate = not site.double_opt_in
    # The site's daily confirmations, spent by every relayed consent whatever the number (a
    # page's identify spends them at the door, the same way): what a checkout's ticked box
    # costs never tells a known number from an unknown one.
    if (
        relayed
        and consent.get("granted")
        and not immediate
        and not enrolment.take_relayed_confirmation(site=site)
    ):
        logger.warning("site %s: a platform's claimed consent over the daily limit", site.pk)
        return Contact.objects.filter(site=site, phone=event["phone"]).first(), False
    known = Contact.objects.filter(site=site, phone=event["phone"]).first()
    if known is not None and known.consent_status != Contact.NO_CONSENT:
        if relayed and consent.get("withdrawn") and is_live(status=known.consent_status):
            # The platform's own record says the customer unsubscribed there: stopping is the
            # safe side, so this claim is honoured (only a claim to stop, never one to start).
            revoke(
                contact=known,
                channel=Channel.SMS,
                source=_RELAYED_SOURCES.get(consent.get("source", ""), ConsentSource.SERVER_API),
                text=consent.get("text", ""),
                ip=ip,
                user_agent=user_agent,
            )
        logger.info("identify of a number with a consent state: a claim changes nothing")
        return known, False
    if not consent.get("granted"):
        # Nothing is started, so nothing is linked: a browser or a cart tied to a number
        # without consent would become hers the day the shop's server grants it.
        with transaction.atomic():
            contact, created = get_or_create_contact(site=site, raw_phone=event["phone"])
        return contact, created
    if contact_region(event["phone"], site) not in site.countries:
        logger.info("a claimed consent for a number outside the site's countries: not started")
        return known, False
    with transaction.atomic():
        contact, created = get_or_create_contact(site=site, raw_phone=event["phone"])
        _keep_claimed_first_name(contact, event.get("first_name", ""))
        try:
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED if immediate else ConsentStatus.PENDING,
                source=_claim_source(consent, relayed=relayed, source=source),
                text=consent.get("text", ""),
                ip=ip,
                user_agent=user_agent,
                only_from={Contact.NO_CONSENT},
            )
        except ConsentBlocked:
            logger.info("consent refused: the number said STOP before it was erased")
            return contact, False
        if contact.consent_status != (
            ConsentStatus.GRANTED if immediate else ConsentStatus.PENDING
        ):
            return contact, False  # a concurrent door gave the number a state first
        if not immediate:
            contact_id = contact.pk
            transaction.on_commit(lambda: enqueue_confirmation(contact_id))
        if visitor is not None and contact.email_consent_status == Contact.NO_CONSENT:
            # A contact holds two addresses: one with a consent state on the other channel is
            # a customer's, and a claim never ties a browser (its carts) to her.
            link_visitor(visitor=visitor, contact=contact, method=Method.SNIPPET)
    return contact, created


def _email(
    *,
    site: Site,
    visitor: Visitor | None,
    event: dict[str, Any],
    proof: Proof,
    beside: Contact | None,
    relayed: bool,
    ip: str | None,
    user_agent: str,
    source: str | None,
) -> Contact | None:
    """The event's email address and its own consent (``email_consent``), under the same
    rules as a number's: the shop's server grants and links; a claim changes nothing about an
    address with a consent state and starts the double opt-in (by email) of one without.
    The SMS consent given with it is never read here: SMS consent never implies email consent,
    nor the reverse."""
    email = event["email"]
    consent = event.get("email_consent") or {}
    first_name = event.get("first_name", "")
    if proof == Proof.SHOP_SERVER:
        with transaction.atomic():
            contact, _ = get_or_create_email_contact(
                site=site, email=email, beside=beside, first_name=first_name
            )
            if consent.get("granted") and not is_live(status=contact.email_consent_status):
                try:
                    record_consent(
                        contact=contact,
                        status=ConsentStatus.GRANTED,
                        source=source or ConsentSource.SERVER_API,
                        text=consent.get("text", ""),
                        ip=ip,
                        user_agent=user_agent,
                        channel=Channel.EMAIL,
                    )
                except ConsentBlocked:
                    logger.info("consent refused: the address opted out before it was erased")
            if visitor is not None:
                link_visitor(visitor=visitor, contact=contact, method=Method.SERVER)
        return contact
    immediate = not site.double_opt_in
    if (
        relayed
        and consent.get("granted")
        and not immediate
        and not enrolment.take_relayed_confirmation(site=site)
    ):
        logger.warning("site %s: a platform's claimed consent over the daily limit", site.pk)
        return Contact.objects.filter(site=site, email=email).first()
    known = Contact.objects.filter(site=site, email=email).first()
    if known is not None and known.email_consent_status != Contact.NO_CONSENT:
        if relayed and consent.get("withdrawn") and is_live(status=known.email_consent_status):
            # The platform's own record says the customer unsubscribed there: honoured.
            revoke(
                contact=known,
                channel=Channel.EMAIL,
                source=_RELAYED_SOURCES.get(consent.get("source", ""), ConsentSource.SERVER_API),
                text=consent.get("text", ""),
                ip=ip,
                user_agent=user_agent,
            )
        logger.info("identify of an address with a consent state: a claim changes nothing")
        return known
    if not consent.get("granted"):
        # Nothing started, nothing linked (as for a number without consent).
        with transaction.atomic():
            contact, _ = get_or_create_email_contact(site=site, email=email, beside=beside)
        return contact
    status = ConsentStatus.GRANTED if immediate else ConsentStatus.PENDING
    with transaction.atomic():
        contact, _ = get_or_create_email_contact(site=site, email=email, beside=beside)
        _keep_claimed_first_name(contact, first_name)
        try:
            record_consent(
                contact=contact,
                status=status,
                source=_claim_source(consent, relayed=relayed, source=source),
                text=consent.get("text", ""),
                ip=ip,
                user_agent=user_agent,
                only_from={Contact.NO_CONSENT},
                channel=Channel.EMAIL,
            )
        except ConsentBlocked:
            logger.info("consent refused: the address opted out before it was erased")
            return contact
        if contact.email_consent_status != status:
            return contact  # a concurrent door gave the address a state first
        if not immediate:
            contact_id = contact.pk
            transaction.on_commit(lambda: enqueue_confirmation(contact_id, Channel.EMAIL))
        if visitor is not None and contact.consent_status == Contact.NO_CONSENT:
            # As for a number: never a browser tied by a claim to a contact whose number has a
            # consent state.
            link_visitor(visitor=visitor, contact=contact, method=Method.SNIPPET)
    return contact


def contact_region(phone: str, site: Site) -> str:
    """The country of a number already in E.164."""
    return parse_phone(phone, default_region=site.country).region


def _claim_source(consent: dict[str, Any], *, relayed: bool, source: str | None) -> str:
    if relayed:
        return _RELAYED_SOURCES.get(consent.get("source", ""), ConsentSource.SERVER_API)
    return source or ConsentSource.SNIPPET


def _keep_claimed_first_name(contact: Contact, first_name: str) -> None:
    """The first name typed with the claim that starts the number's consent waits aside until
    the owner confirms that claim (``consent.record_consent`` promotes it then): until then no
    SMS carries what a stranger may have typed. Only that claim's: a name typed earlier without
    consent, by anyone, is not the one the owner confirms."""
    first_name = first_name.strip()[:80]
    if not contact.first_name and first_name != contact.claimed_first_name:
        contact.claimed_first_name = first_name
        contact.save(update_fields=["claimed_first_name", "updated_at"])


@receiver(identify_received, dispatch_uid="optin.gate.on_identify")
def on_identify(
    *,
    site_id: int,
    visitor_id: int | None,
    event: dict[str, Any],
    authenticated: bool,
    proof: str | None = None,
    relayed: bool = False,
    ip: str | None = None,
    user_agent: str = "",
    **kwargs: Any,
) -> None:
    site = Site.objects.get(pk=site_id)
    visitor = Visitor.objects.filter(pk=visitor_id).first() if visitor_id else None
    kind = Proof(proof) if proof else (Proof.SHOP_SERVER if authenticated else Proof.CLAIM)
    identify(
        site=site,
        visitor=visitor,
        event=event,
        proof=kind,
        relayed=relayed,
        ip=ip,
        user_agent=user_agent,
    )
