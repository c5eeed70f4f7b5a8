"""The demo data `make run` loads: a shop, its flow, consenting contacts and a marketer.

Idempotent: running it again changes nothing. Its numbers are made up, so it runs only with
the `outbox` SMS backend, where no message leaves the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from campaigns.models import DiscountMode, StepChannel, Trigger
from campaigns.onboarding import add_flow, bootstrap_site
from campaigns.orders import record_order_status
from campaigns.stock_requests import record_stock_request
from optin.consent import record_consent
from optin.contacts import get_or_create_contact, get_or_create_email_contact
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.channels import Channel
from retargeting.demoshop.views import CONSENT_TEXT, DEMO_SITE_NAME, PRODUCTS, STOCK_ALERT_TEXT
from retargeting.gateways import get_gateway
from retargeting.sites.models import Membership, QuietHours, Site
from retargeting.sites.services import add_member
from retargeting.sms.phones import parse_phone
from retargeting.tracking.catalog import update_products
from retargeting.tracking.models import Cart, Product, ProductView, Visitor
from retargeting.tracking.proofs import Proof
from retargeting.tracking.server_orders import read_order

EMAIL_CONSENT_TEXT = "J'accepte de recevoir les offres de la boutique par email."
DEMO_WELCOME_CODE = "BIENVENUE10"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "relance-demo"  # noqa: S105 - printed by `make run` on purpose
DEMO_CONTACTS = [
    # (phone, first name, visitor id, cart total, items)
    (
        "06 12 34 56 01",
        "Marie",
        "demo0000000000000000000000000001",
        "59.90",
        [{"sku": "CH-01", "name": "Chemise lin", "price": 29.95, "quantity": 2}],
    ),
    (
        "06 12 34 56 02",
        "Lucas",
        "demo0000000000000000000000000002",
        "89.00",
        [{"sku": "VE-07", "name": "Veste", "price": 89.0, "quantity": 1}],
    ),
    ("06 12 34 56 03", "Chloé", "demo0000000000000000000000000003", "0", []),
]
# Someone who gave an email address and email consent but no number: the flow's step goes
# "SMS, else email", so her reminder is an email, shown in the mailbox (/dev/mail/).
DEMO_EMAIL_CONTACT = (
    "ines@example.com",
    "Inès",
    "demo0000000000000000000000000004",
    "45.00",
    [{"sku": "FO-02", "name": "Foulard soie", "price": 45.0, "quantity": 1}],
)
DEMO_EMAIL_FROM = f"{DEMO_SITE_NAME} <bonjour@boutique.example>"
DEMO_POSTAL_ADDRESS = "3 rue des Lilas, 75011 Paris"
DEMO_APPS = ("sites", "tracking", "gateways", "optin", "campaigns")


@dataclass(frozen=True)
class DemoResult:
    site: Site
    created: bool
    secret_key: str | None
    """Only when the site was created now: it is stored hashed."""


class DemoNeedsOutbox(RuntimeError):
    pass


@transaction.atomic
def load_demo() -> DemoResult:
    """Create the demo data unless it exists."""
    if not get_gateway().stays_on_machine:
        raise DemoNeedsOutbox(
            "the demo's phone numbers are made up: load it only with SMS_BACKEND=outbox"
        )
    site = Site.objects.filter(name=DEMO_SITE_NAME).first()
    secret_key = None
    created = site is None
    if site is None:
        boot = bootstrap_site(
            name=DEMO_SITE_NAME,
            domains=["127.0.0.1", "localhost"],
            country="FR",
            delay_minutes=2,
            # So a newcomer sees a reminder whatever the hour; new sites default to quiet hours.
            quiet_hours=QuietHours.NONE,
            email_fallback=True,
            email_from=DEMO_EMAIL_FROM,
            postal_address=DEMO_POSTAL_ADDRESS,
        )
        site, secret_key = boot.site, boot.secret_key
    _load_marketer(site)
    _load_contacts(site)
    if created:
        _load_welcome(site)
        _load_journeys(site)
    return DemoResult(site=site, created=created, secret_key=secret_key)


def _load_welcome(site: Site) -> None:
    """A welcome flow, made after the demo's contacts (they subscribed before it: not
    welcomed): a number confirmed in the demo shop gets its welcome a minute later."""
    flow = add_flow(
        site=site, trigger=Trigger.WELCOME, delay_minutes=1, channel=StepChannel.SMS_ELSE_EMAIL
    )
    flow.steps.update(discount_mode=DiscountMode.FIXED, discount_code=DEMO_WELCOME_CODE)


# The journeys beyond the cart, each shown by the demo within a minute or two of `make run`.
DEMO_BROWSER = ("06 12 34 56 03", "SA-03")  # Chloé viewed the canvas bag and left: a browse
DEMO_STOCK_ASKER = ("06 12 34 56 02", "FO-11")  # Lucas asked to be told when the scarf returns
# Hugo ordered, paid, and the parcel left: two transactional SMS, without marketing consent.
DEMO_BUYER = ("06 12 34 56 05", "Hugo")
DEMO_ORDER_ID = "D-1001"
DEMO_TRACKING_URL = "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901"


def _load_journeys(site: Site) -> None:
    """A flow for each journey (the triggers' default texts), and what starts each one: a
    product viewed and left, a back-in-stock request the shop's restock button answers
    (``/demo/shop/p/FO-11/``), an order paid then shipped."""
    for trigger, delay in (
        (Trigger.BROWSE_ABANDONED, 2),
        (Trigger.BACK_IN_STOCK, 0),
        (Trigger.ORDER_CONFIRMATION, 0),
        (Trigger.SHIPPING_UPDATE, 0),
        (Trigger.REVIEW_REQUEST, None),
    ):
        add_flow(site=site, trigger=trigger, delay_minutes=delay)
    now = timezone.now()
    base = settings.PUBLIC_BASE_URL
    update_products(
        site=site,
        products=[
            {
                "id": str(item["sku"]),
                "sku": str(item["sku"]),
                "name": str(item["name"]),
                "url": f"{base}/demo/shop/p/{item['sku']}/",
                "price": Decimal(str(item["price"])),
                "currency": "EUR",
                "available": bool(item["available"]),
            }
            for item in PRODUCTS
        ],
        now=now - timedelta(days=3),
    )
    phone, sku = DEMO_BROWSER
    browser = Contact.objects.get(
        site=site, phone=parse_phone(phone, default_region=site.country).e164
    )
    visitor = Visitor.objects.get(site=site, contact_link__contact=browser)
    viewed_at = now - timedelta(minutes=65)
    ProductView.objects.create(
        site=site,
        visitor=visitor,
        product=Product.objects.get(site=site, external_id=sku),
        day=viewed_at.date(),
        viewed_at=viewed_at,
    )
    Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=viewed_at)
    phone, sku = DEMO_STOCK_ASKER
    asker = Visitor.objects.get(
        site=site, contact_link__contact__phone=parse_phone(phone, default_region=site.country).e164
    )
    record_stock_request(
        site=site,
        visitor=asker,
        request={
            "product": {"id": sku},
            "phone": parse_phone(phone, default_region=site.country).e164,
            "consent": {"granted": True, "text": STOCK_ALERT_TEXT, "source": "product_page"},
        },
        proof=Proof.SHOP_SERVER,
        now=now - timedelta(days=2),
    )
    phone, first_name = DEMO_BUYER
    get_or_create_contact(site=site, raw_phone=phone, first_name=first_name)  # no consent
    item = {"sku": "VE-07", "name": "Veste légère", "price": 89.0, "quantity": 1}
    for status, extra in (("paid", {}), ("shipped", {"tracking_url": DEMO_TRACKING_URL})):
        # As the shop's server reports it (``POST /api/v1/orders``).
        body = {
            "order_id": DEMO_ORDER_ID,
            "status": status,
            "phone": phone,
            "total": 89.0,
            "currency": "EUR",
            "items": [{**item, "url": f"{base}/demo/shop/p/VE-07/"}],
            **extra,
        }
        record_order_status(site=site, order=read_order(body, site=site), proof=Proof.SHOP_SERVER)


def _load_marketer(site: Site) -> None:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=DEMO_USERNAME, defaults={"is_staff": True, "email": "demo@example.com"}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=DEMO_APPS))
    add_member(site=site, user=user, role=Membership.Role.OWNER)


def _load_contacts(site: Site) -> None:
    now = timezone.now()
    people: list[tuple[Contact, str, str, list[dict[str, object]]]] = []
    for phone, first_name, vid, total, items in DEMO_CONTACTS:
        contact, created = get_or_create_contact(site=site, raw_phone=phone, first_name=first_name)
        if created:
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED,
                source=ConsentSource.ADMIN,
                text=CONSENT_TEXT,
            )
        people.append((contact, vid, total, items))
    # Her address is made up too: only where emails stay on the machine.
    if get_gateway(Channel.EMAIL).stays_on_machine:
        email, first_name, vid, total, items = DEMO_EMAIL_CONTACT
        contact, created = get_or_create_email_contact(
            site=site, email=email, first_name=first_name
        )
        if created:
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED,
                source=ConsentSource.ADMIN,
                text=EMAIL_CONSENT_TEXT,
                channel=Channel.EMAIL,
            )
        people.append((contact, vid, total, items))
    for contact, vid, total, items in people:
        visitor, _ = Visitor.objects.get_or_create(
            site=site, vid=vid, defaults={"first_seen_at": now, "last_seen_at": now}
        )
        VisitorLink.objects.get_or_create(
            visitor=visitor,
            defaults={"contact": contact, "method": VisitorLink.Method.SERVER, "linked_at": now},
        )
        if items and not visitor.carts.exists():
            left_at = now - timedelta(hours=1)
            Cart.objects.create(
                site=site,
                visitor=visitor,
                external_id=f"demo-{vid[-4:]}",
                total=Decimal(total),
                currency="EUR",
                item_count=sum(item["quantity"] for item in items),
                items=items,
                url=f"{settings.PUBLIC_BASE_URL}/demo/shop/panier/",
                created_at=left_at,
                last_change_at=left_at,
            )
