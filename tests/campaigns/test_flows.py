"""The default flow: its text fits one GSM-7 segment at its longest (campaigns/flows.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.flows import create_default_flow, stop_mention
from campaigns.sms_text import CODE_LENGTH, compose, format_money
from retargeting.sites.models import Language
from retargeting.sms import segments

pytestmark = pytest.mark.django_db

BASE_30 = "https://relance-boutique.examp"  # 30 characters, the longest base promised
SHOP_20 = "Maison Gwendoline Co"  # 20 characters
FIRST_NAME_10 = "Marie-Anne"  # 10 characters


@pytest.mark.parametrize("language", Language.values)
@pytest.mark.parametrize(
    ("public", "short"),
    [(BASE_30, ""), ("https://relance.example", BASE_30), ("http://127.0.0.1:8000", "")],
)
@pytest.mark.parametrize("stop_number", ["", "36111", "+" + "3" * 15])  # the field holds 16
def test_the_default_text_fits_one_gsm7_segment_at_its_longest(
    site, settings, language, public, short, stop_number
):
    assert (len(BASE_30), len(SHOP_20), len(FIRST_NAME_10)) == (30, 20, 10)
    settings.PUBLIC_BASE_URL, settings.SHORT_LINK_BASE_URL = public, short
    site.name, site.language, site.stop_number = SHOP_20, language, stop_number
    site.save()
    step = create_default_flow(site=site).steps.get()
    currency = "EUR" if language == Language.FR else "USD"
    text = compose(
        step,
        site,
        {
            "first_name": FIRST_NAME_10,
            "shop": site.name,
            "cart_total": format_money(Decimal("99999.99"), currency, language),
            "link": f"{short or public}/s/{'x' * CODE_LENGTH}",
        },
    )
    counted = segments.count(text)
    assert f"{short or public}/s/" in text and FIRST_NAME_10 in text and SHOP_20 in text
    assert text.endswith(stop_mention(site=site))
    assert (counted.encoding, counted.segments) == ("GSM-7", 1), (counted.units, text)
    assert counted.units <= 160


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            Language.FR,
            "Ma Boutique : votre panier de 59,90 € vous attend : https://r.example/s/abc\n"
            "Répondez STOP pour vous désabonner",
        ),
        (
            Language.EN,
            "Ma Boutique: your $59.90 cart is waiting: https://r.example/s/abc\n"
            "Reply STOP to opt out",
        ),
    ],
)
def test_the_default_text_without_a_first_name_reads_well(site, language, expected):
    site.name, site.language = "Ma Boutique", language
    site.save()
    step = create_default_flow(site=site).steps.get()
    currency = "EUR" if language == Language.FR else "USD"
    values = {
        "shop": site.name,
        "cart_total": format_money(Decimal("59.90"), currency, language),
        "link": "https://r.example/s/abc",
    }
    assert compose(step, site, values) == expected
