"""/dev/mail/ in a real Chromium: the email's HTML shown in its sandboxed frame, its scripts
never run, its links open outside the frame."""

from __future__ import annotations

import pytest

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Outcome, OutgoingEmail
from retargeting.gateways.models import OutboxEmail

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_html_part_shows_sandboxed_and_its_links_open_outside(
    live_server, page, settings, development_mode
):
    settings.EMAIL_PROVIDER = "outbox"
    settings.EMAIL_BACKEND = "retargeting.gateways.email_outbox.backend.EmailBackend"
    html = (
        '<html><body style="background:#fff"><h1 style="color:#0f766e">Votre panier</h1>'
        f'<a id="cart" href="{live_server.url}/dev/mail/">Retrouver mon panier</a>'
        "<script>document.body.dataset.ran = 'yes'; parent.document.title = 'pwned'</script>"
        "</body></html>"
    )
    result = get_gateway("email").send(
        OutgoingEmail(to="marie@example.fr", subject="Votre panier", text="Votre panier", html=html)
    )
    assert result.outcome is Outcome.ACCEPTED
    kept = OutboxEmail.objects.get()
    page.goto(f"{live_server.url}/dev/mail/{kept.pk}/")
    frame = page.frame_locator("iframe.mail")
    assert frame.locator("h1").inner_text() == "Votre panier"
    # Inline styles apply (the page's policy allows them); no script ran, in or out.
    assert frame.locator("h1").evaluate("e => getComputedStyle(e).color") == "rgb(15, 118, 110)"
    assert frame.locator("body").get_attribute("data-ran") is None
    assert page.title() != "pwned"
    with page.context.expect_page() as opened:
        frame.locator("#cart").click()
    popup = opened.value
    popup.wait_for_load_state()
    assert popup.url == f"{live_server.url}/dev/mail/"
    assert page.url.endswith(f"/dev/mail/{kept.pk}/")  # the mailbox stays where it was
    assert [e for e in page.console_errors if "base" in e.lower()] == []
