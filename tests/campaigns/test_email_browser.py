"""The cart email's HTML part in headless Chromium (Debian's package, through Playwright), as a
phone (390 px) and a computer (1280 px) show it, in light and dark mode: it fits the screen,
its one button is visible and leads to the send's short link, the items and the total are
shown; the flow editor shows it in sandboxed frames at both widths.

``SCREENSHOT_DIR=docs/email`` keeps the screenshots where docs/email.md shows them
(``make email-screenshots`` is not needed: run this file with it).
"""

from __future__ import annotations

import os
import struct
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from campaigns.email_messages import render_email
from campaigns.models import Flow, OptOutLink, StepChannel
from campaigns.opt_out import link_for
from campaigns.sms_text import link_url, short_link
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus
from retargeting.channels import Channel
from retargeting.sites.services import add_member
from tests.factories import SendFactory, StepFactory

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.support.browser"]

LONG_NAME = "Pull en laine mérinos extra-fine col roulé " + "x" * 60  # no space to break on
COLOURS = {"chemise": (186, 200, 214), "pull": (140, 94, 88), "bonnet": (221, 178, 80)}


def png(rgb: tuple[int, int, int], size: int = 144) -> bytes:
    """A plain square PNG, standing for the shop's product photos (no network in tests)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def cart_email(site):
    site.name = "Maison Demo"
    site.email_from = "Maison Demo <bonjour@maison-demo.fr>"
    site.postal_address = "12 rue des Lilas, 75011 Paris"
    site.save()
    send = SendFactory(
        cart__visitor__site=site,
        cart__total=Decimal("164.70"),
        cart__item_count=4,
        cart__items=[
            {
                "name": "Chemise en lin",
                "price": "39.90",
                "quantity": 2,
                "image": "https://shop.example/img/chemise.png",
            },
            {
                "name": LONG_NAME,
                "price": "59.90",
                "quantity": 1,
                "image": "https://shop.example/img/pull.png",
            },
            {
                "name": "Bonnet <côtelé> & doux",
                "price": "25.00",
                "quantity": 1,
                "image": "https://shop.example/img/bonnet.png",
            },
        ],
        channel=Channel.EMAIL,
        step__channel=StepChannel.EMAIL,
        step__subject="{{ first_name }}, votre panier vous attend",
        step__email_template=(
            "Bonjour {{ first_name }},\nvous avez laissé quelques articles dans votre panier "
            "chez {{ shop }}. Ils vous attendent encore."
        ),
    )
    link = short_link(send)
    email, _note = render_email(send, link=link, unsubscribe=link_for(send))
    return email, link_url(link)


def product_photos(page):
    def fulfil(route):
        name = route.request.url.rsplit("/", 1)[-1].removesuffix(".png")
        route.fulfill(body=png(COLOURS.get(name, (200, 200, 200))), content_type="image/png")

    page.route("https://shop.example/img/**", fulfil)


@override_settings(PUBLIC_BASE_URL="https://relance.example", SHORT_LINK_BASE_URL="")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1280])
def test_the_cart_email_reads_on_a_phone_and_a_computer_in_light_and_dark(
    page, site, width, scheme, tmp_path
):
    email, link = cart_email(site)
    product_photos(page)
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme)
    page.set_content(email.html, wait_until="load")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the email is {overflow}px wider than a {width}px screen"
    button = page.locator("#cart-button")
    assert button.is_visible() and button.inner_text() == "Retrouver mon panier"
    assert button.get_attribute("href") == link
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert box["height"] >= 44  # a thumb's target
    assert page.locator("a").count() == 2  # the button and the unsubscribe link
    text = page.inner_text("body")
    assert "Chemise en lin" in text and "Bonnet <côtelé> & doux" in text
    assert "Quantité : 2" in text and "39,90 €" in text and "164,70 €" in text
    assert "12 rue des Lilas, 75011 Paris" in text and "bonjour@maison-demo.fr" in text
    images = page.locator("img")
    assert images.count() == 3
    assert all(
        page.evaluate("(img) => img.complete && img.naturalWidth > 0", handle)
        for handle in images.element_handles()
    )
    background = page.evaluate("getComputedStyle(document.querySelector('.card')).backgroundColor")
    assert background == ("rgb(28, 33, 40)" if scheme == "dark" else "rgb(255, 255, 255)")
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"cart-email-{width}-{scheme}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5_000
    assert page.console_errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_flow_editor_previews_the_email_at_both_widths(
    page, live_server, site, width, tmp_path
):
    user = User.objects.create_user("marketer", password="pass-word-123", is_staff=True)
    add_member(site=site, user=user)
    StepFactory(flow__site=site)
    flow = Flow.objects.get(site=site)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/campaigns/flow/{flow.pk}/change/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_selector(".relance-preview .relance-sms")
    assert page.locator(".relance-email").count() == 0
    page.select_option("select[name='steps-0-channel']", "email")
    page.fill("input[name='steps-0-subject']", "{{ first_name }}, votre panier")
    page.wait_for_selector(".relance-email iframe")
    assert page.inner_text(".relance-subject") == "Objet : Marie, votre panier"
    frames = page.locator(".relance-email iframe")
    assert frames.count() == 2
    assert [frames.nth(i).get_attribute("width") for i in range(2)] == ["1280", "390"]
    assert all(frames.nth(i).get_attribute("sandbox") == "" for i in range(2))
    phone = page.frame_locator(".relance-email-phone iframe")
    assert phone.locator("#cart-button").inner_text() == "Retrouver mon panier"
    assert "59,90 €" in phone.locator("body").inner_text()
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.locator(".relance-email").screenshot(path=str(folder / f"editor-email-{width}.png"))
    page.fill("input[name='steps-0-subject']", "{{ password }}")
    page.wait_for_selector(".relance-email .errorlist li")
    assert "password" in page.inner_text(".relance-email .errorlist")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert page.console_errors == []


def test_the_unsubscribe_page_takes_one_click_on_a_phone(page, live_server, site, tmp_path):
    email, _link = cart_email(site)
    send_link = OptOutLink.objects.get()
    contact = send_link.contact
    contact.email = "marie@example.fr"
    contact.save()
    for channel in (Channel.SMS, Channel.EMAIL):
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            text="Oui",
            channel=channel,
        )
    unsubscribe = email.headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe.endswith(f"/u/{send_link.code}")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/u/{send_link.code}")
    button = page.get_by_role("button", name="Ne plus recevoir d'emails de Maison Demo")
    assert button.is_visible()
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "unsubscribe-390.png"))
    contact.refresh_from_db()
    assert contact.email_consent_status == ConsentStatus.GRANTED  # opening changed nothing
    button.click()
    page.wait_for_selector("#outcome")
    assert "C'est fait : Maison Demo ne vous enverra plus d'emails" in page.inner_text("#outcome")
    page.screenshot(path=str(folder / "unsubscribe-390-done.png"))
    contact.refresh_from_db()
    assert contact.email_consent_status == ConsentStatus.REVOKED
    assert contact.consent_status == ConsentStatus.GRANTED
    proof = Consent.objects.filter(contact=contact, channel=Channel.EMAIL).last()
    assert proof.source == ConsentSource.UNSUBSCRIBE and "Chrome" in proof.user_agent
    assert page.console_errors == []
