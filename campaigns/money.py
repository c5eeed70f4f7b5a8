"""Amounts as a shop's customers read them, in the site's language."""

from __future__ import annotations

from decimal import Decimal

from retargeting.sites.models import Language


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """``59,90 €`` for French, ``€59.90`` for English (other currencies keep their code)."""
    symbol = {"EUR": "€", "GBP": "£", "USD": "$"}.get(currency, currency)
    if language == Language.FR:
        whole, cents = f"{amount:,.2f}".split(".")
        return f"{whole.replace(',', ' ')},{cents} {symbol}"
    return f"{symbol}{amount:,.2f}"
