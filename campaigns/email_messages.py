"""The email of one send: its subject, its text and HTML parts, and its headers.

The subject and the message above the cart are the step's templates, in the same restricted
template language and with the same variables as an SMS (``campaigns.sms_templates``); the
rest is the email's own Django templates (``templates/email/cart.html`` and ``cart.txt``),
autoescaped: item names come from the shopper's browser and are hostile input.

What every marketing email carries (CONTRACT.md, "Email"): the cart (items with image, name,
price and quantity, the total), one button to the cart (the per-send short link), the shop's
name, sender address and postal address, an unsubscribe link and the RFC 8058 headers
``List-Unsubscribe`` and ``List-Unsubscribe-Post``. Nothing else: no external CSS, no web
font, no image but the cart's own, no open-tracking pixel (docs/email.md says why).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from campaigns.flows import STOP_LINK_MENTION, tells_to_reply
from campaigns.models import OptOutLink, Send, ShortLink, Step
from campaigns.money import format_money
from campaigns.sms_templates import InvalidTemplate, render
from campaigns.sms_text import (
    discount_code_for,
    link_url,
    sample_opt_out_url,
    short_link_base,
    variable_errors,
)
from campaigns.trigger_registry import rendering_room, room_of
from retargeting.channels import Channel
from retargeting.channels.rooms import room
from retargeting.gateways import get_gateway
from retargeting.sites.models import Language, Site

DEFAULT_SUBJECT = {
    Language.FR: "{{ shop }} : votre panier vous attend",
    Language.EN: "{{ shop }}: your cart is waiting",
}
SUBJECT_MAX = 200
# A cart may hold up to the collector's limit of items; the email shows the first ones and
# says how many more the cart holds.
ITEMS_SHOWN = 10
IMAGE_SIZE = 72
_SPACES = re.compile(r"[ \t]{2,}")
_WHITESPACE = re.compile(r"\s+")
_DANGLING = re.compile(r"\s*[:：]\s*$")
# A bare "STOP" ending a line of an SMS text is its opt-out word, not the customer's business
# in an email (the word inside a name, "Nonstop", is left).
_BARE_STOP = re.compile(r"\s+STOP[.!]?$")
# "Stop SMS :", what an SMS's one-tap mention leaves once its link is taken out.
_LINK_MENTION_WORDS = tuple(
    words.split("{link}")[0].strip() for words in STOP_LINK_MENTION.values()
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EmailItem:
    name: str
    quantity: int
    price: str
    """The unit price, formatted in the shop's language."""
    image: str
    """The item's own image (http or https), or ``""``."""


def email_sender(site: Site) -> str:
    """The From of ``site``'s emails: its own ``email_from``, else the platform's
    ``DEFAULT_FROM_EMAIL`` address under the shop's name."""
    return room(Channel.EMAIL).sender(site)  # the email channel's one rule


def default_subject(site: Site) -> str:
    return DEFAULT_SUBJECT[Language(site.language)]


def email_text_errors(step: Step) -> dict[str, list[str]]:
    """What is wrong with ``step``'s email texts, by field (empty: nothing, or not an email
    step): the model's rules (a subject, valid templates), and no "Répondez STOP" in the
    email text: an email is not answered with STOP, its footer has the unsubscribe link."""
    errors = step.email_text_errors()
    if step.sends_email and not errors:
        # The variables the step's trigger fills (the model checked the texts as templates).
        for field, text in (("subject", step.subject), ("email_template", step.email_template)):
            if not_filled := variable_errors(step, text):
                errors.setdefault(field, []).extend(not_filled)
    words = tells_to_reply(step.email_template) if step.sends_email else ""
    if words:
        errors.setdefault("email_template", []).append(
            _(
                "“%(words)s”: an email is not answered with STOP. Remove it: every email ends "
                "with its unsubscribe link."
            )
            % {"words": words}
        )
    return errors


def render_email(
    send: Send, *, link: ShortLink, unsubscribe: OptOutLink
) -> tuple[RenderedEmail, str]:
    """The email of ``send``, and a note for its history (a discount fallback), or ``""``.

    Raises ``InvalidTemplate`` for a step whose texts are not valid templates, and
    ``sms_text.PoolEmpty`` as the SMS does."""
    site, contact = send.site, send.contact
    code, note = discount_code_for(send)
    trigger = room_of(send)
    content = trigger.email_content(send)
    email = compose_email(
        step=send.step,
        site=site,
        first_name=contact.first_name if contact else "",
        items=content.items,
        total=content.total if content.total is not None else Decimal(0),
        currency=content.currency or "EUR",
        item_count=content.item_count,
        discount_code=code,
        link=link_url(link),
        unsubscribe=unsubscribe_url(unsubscribe),
        asked=trigger.unverified_content,
        values=trigger.values(send),
    )
    return email, note


def preview_email(step: Step, *, discount_code: str = "") -> RenderedEmail:
    """``step``'s email for a typical customer (Marie, two items), as the editor shows it.
    Raises ``InvalidTemplate`` when a text is not a valid template."""
    site = step.flow.site
    french = site.language == Language.FR
    currency = "EUR" if french else "USD"
    trigger = rendering_room(step.flow.trigger)
    items = [
        {
            "name": "Chemise en lin" if french else "Linen shirt",
            "price": "39.90",
            "quantity": 1,
        },
        {
            "name": "Chaussettes rayées" if french else "Striped socks",
            "price": "10.00",
            "quantity": 2,
        },
    ]
    if not trigger.has_cart:
        items = []  # a welcome, an order's message… show their own words, no cart
    return compose_email(
        step=step,
        site=site,
        first_name="Marie",
        items=items,
        total=Decimal("59.90") if items else Decimal(0),
        currency=currency,
        item_count=3 if items else 0,
        discount_code=discount_code,
        link=f"{short_link_base()}/s/aB3dE5fG7h",
        unsubscribe=sample_opt_out_url(),
        values=trigger.sample_values(site),
    )


def compose_email(
    *,
    step: Step,
    site: Site,
    first_name: str,
    items: list[dict[str, Any]],
    total: Decimal,
    currency: str,
    item_count: int,
    discount_code: str,
    link: str,
    unsubscribe: str,
    asked: bool = False,
    values: dict[str, object] | None = None,
) -> RenderedEmail:
    """The email of ``step`` for these values: the one function the send path and the
    editor's preview both call.

    ``asked``: a cart sent at a shopper's request (the bridge), to an address anyone may have
    typed, with a cart anyone may have written: its item names lose what looks like a web
    address (a mail client would make it a link off the shop's site), its images are shown
    only from the shop's own domains, and its footer says why it came."""
    language = Language(site.language)
    values = {
        **(values or {}),
        "first_name": first_name,
        "shop": site.name,
        "cart_total": format_money(total, currency, language),
        "item_name": str(items[0].get("name", "")) if items else "",
        "item_count": item_count,
        "link": link,
        "discount_code": discount_code,
        "stop": "",
        "stop_link": unsubscribe,
    }
    subject = _WHITESPACE.sub(" ", render(step.subject or default_subject(site), values))
    subject = subject.strip()[:SUBJECT_MAX]
    message = _message(step, values)
    shown = [_item(item, currency, language) for item in items[:ITEMS_SHOWN]]
    if asked:
        shown = [_unlinked(item, site) for item in shown]
    _name, sender_address = parseaddr(email_sender(site))
    context = {
        "language": language.value,
        "subject": subject,
        "message": message,
        "items": shown,
        "with_images": any(item.image for item in shown),
        "more": max(0, len(items) - len(shown)),
        "total": values["cart_total"],
        "link": link,
        "unsubscribe": unsubscribe,
        "shop": site.name,
        "sender_address": sender_address,
        "postal_address": site.postal_address.strip(),
        "image_size": IMAGE_SIZE,
        "asked": asked,
    }
    with translation.override(language.value):
        html = render_to_string("email/cart.html", context)
        text = render_to_string("email/cart.txt", context)
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return RenderedEmail(subject=subject, text=_tidy(text), html=html, headers=headers)


def _message(step: Step, values: dict[str, object]) -> str:
    """The words above the cart: the step's email text, or else its SMS text's words without
    the link (the button is the link) and without the SMS's opt-out mention."""
    if step.email_template.strip():
        return render(step.email_template, values).strip()
    text = render(step.template, {**values, "link": "", "stop_link": ""})
    placeholder = get_gateway().stop_mention_placeholder()
    if placeholder:
        text = text.replace(placeholder, "")
    lines = []
    for line in text.splitlines():
        if tells_to_reply(line):
            continue
        if any(line.strip().startswith(words) for words in _LINK_MENTION_WORDS):
            continue
        line = _DANGLING.sub("", _BARE_STOP.sub("", _SPACES.sub(" ", line).rstrip())).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def _item(item: dict[str, Any], currency: str, language: str) -> EmailItem:
    try:
        price = Decimal(str(item.get("price", "0")))
    except InvalidOperation:
        price = Decimal(0)
    image = str(item.get("image", ""))
    try:
        quantity = int(item.get("quantity", 1))
    except (TypeError, ValueError):
        quantity = 1
    return EmailItem(
        name=str(item.get("name", "")),
        quantity=quantity,
        price=format_money(price, currency, language),
        image=image if image.startswith(("https://", "http://")) else "",
    )


_ADDRESS_LIKE = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.)\S*|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b(?:/\S*)?",
    re.IGNORECASE,
)


def _unlinked(item: EmailItem, site: Site) -> EmailItem:
    """An item of a cart anyone may have written, fit for an email to anyone's address."""
    name = _WHITESPACE.sub(" ", _ADDRESS_LIKE.sub("", item.name)).strip()
    image = item.image if item.image and site.owns_url(item.image) else ""
    return replace(item, name=name, image=image)


def _tidy(text: str) -> str:
    """The text part without the template's blank-line runs."""
    return re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"


__all__ = [
    "InvalidTemplate",
    "RenderedEmail",
    "compose_email",
    "email_sender",
    "email_text_errors",
    "preview_email",
    "render_email",
]


def unsubscribe_url(link: OptOutLink) -> str:
    """``PUBLIC_BASE_URL/u/CODE``: the unsubscribe link and ``List-Unsubscribe`` of an email,
    on Relance's own origin (the contract's; an SMS uses the shorter ``SHORT_LINK_BASE_URL``
    where one is set, for its length, which an email need not save)."""
    return f"{settings.PUBLIC_BASE_URL}/u/{link.code}"
