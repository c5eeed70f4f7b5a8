"""What SMS cost: segments times the price of one segment in the recipient's country."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings


def price_per_segment(country: str) -> Decimal:
    prices = settings.SMS_PRICES
    return Decimal(str(prices.get(country, prices.get("*", "0"))))


def estimate(*, segments: int, country: str) -> Decimal:
    """The cost of one message of ``segments`` segments to ``country``."""
    return price_per_segment(country) * segments
