"""The text of one reminder, and its short link."""

from __future__ import annotations

import secrets
import string
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from campaigns.flows import stop_mention
from campaigns.models import Send, ShortLink
from campaigns.templates import render
from retargeting.sites.models import Language

_BASE62 = string.digits + string.ascii_letters
CODE_LENGTH = 10


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """``59,90 €`` for French, ``€59.90`` for English (other currencies keep their code)."""
    symbol = {"EUR": "€", "GBP": "£", "USD": "$"}.get(currency, currency)
    if language == Language.FR:
        whole, cents = f"{amount:,.2f}".split(".")
        return f"{whole.replace(',', ' ')},{cents} {symbol}"
    return f"{symbol}{amount:,.2f}"


def short_link(send: Send) -> ShortLink:
    """The send's short link, made once: ``PUBLIC_BASE_URL/s/CODE``."""
    existing = ShortLink.objects.filter(send=send).first()
    if existing:
        return existing
    site, cart = send.site, send.cart
    target = cart.url or site.cart_url or f"https://{site.allowed_domains[0]}/"
    now = timezone.now()
    return ShortLink.objects.create(
        send=send,
        code="".join(secrets.choice(_BASE62) for _ in range(CODE_LENGTH)),
        target_url=target,
        created_at=now,
        expires_at=now + timedelta(days=site.link_ttl_days),
    )


def link_url(link: ShortLink) -> str:
    return f"{settings.PUBLIC_BASE_URL}/s/{link.code}"


def render_body(send: Send) -> str:
    site, cart, contact = send.site, send.cart, send.contact
    items = cart.items or []
    context = {
        "first_name": contact.first_name if contact else "",
        "shop": site.name,
        "cart_total": format_money(cart.total, cart.currency, site.language),
        "item_name": items[0]["name"] if items else "",
        "item_count": cart.item_count,
        "link": link_url(short_link(send)),
        "discount_code": send.step.discount_code,
        "stop": stop_mention(site=site),
    }
    body = render(send.step.template, context)
    # The opt-out mention is the law: added when a template lacks it.
    mention = stop_mention(site=site)
    return body if "STOP" in body.upper() else f"{body}\n{mention}"
