"""The contact token of a short link (``_rl``): honoured once, soon after the tap, from the
browser that tapped; a link posted for others gives them nothing and the poster none of
their carts. Through the public doors: the redirect ``/s/CODE``, the collector, the
confirmation link and a dispatch pass."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from campaigns.dispatch import run_pass
from campaigns.models import SendStatus, ShortLink
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact, UsedToken, VisitorLink
from optin.tokens import WINDOW
from retargeting.gateways.models import OutboxMessage
from tests.factories import ContactFactory, SendFactory, SiteFactory, StepFactory

pytestmark = pytest.mark.django_db(transaction=True)  # identify runs on commit, as in production
MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris
POSTER = "+33612345678"
FOLLOWER = "+33698765432"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148 Safari/604.1"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile Safari/537.36"
POSTER_VID = "poster00000000000000000000000000"
FOLLOWER_VID = "follower000000000000000000000000"
TWIN_VID = "twin0000000000000000000000000000"  # a follower whose phone is the poster's model


@pytest.fixture
def shop():
    site = SiteFactory(name="Maison Demo", allowed_domains=["shop.example"], country="FR")
    step = StepFactory(flow__site=site, delay_minutes=30)
    with time_machine.travel(MORNING - timedelta(days=3), tick=False):
        poster = ContactFactory(site=site, phone=POSTER)
        record_consent(contact=poster, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN)
        send = SendFactory(
            cart__visitor__site=site,
            step=step,
            contact=poster,
            status=SendStatus.SENT,
            sent_at=MORNING - timedelta(days=3),
        )
    ShortLink.objects.create(
        send=send,
        code="Abc123defg",
        target_url="https://shop.example/panier?restore=1",
        created_at=MORNING - timedelta(days=3),
        expires_at=MORNING + timedelta(days=27),
    )
    return site


def tap(client, user_agent):
    """The poster taps the link of his SMS: the landing URL, with his token."""
    response = client.get("/s/Abc123defg", HTTP_USER_AGENT=user_agent)
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["_rl"][0]


def collect(client, site, *events, vid, user_agent):
    body = json.dumps({"site": site.public_key, "vid": vid, "events": list(events)})
    return client.post(
        "/t/e",
        data=body,
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
        HTTP_USER_AGENT=user_agent,
    )


def present(client, site, token, *, vid, user_agent):
    """A landing page's snippet sending the token back; the answer."""
    return collect(
        client, site, {"type": "identify", "token": token}, vid=vid, user_agent=user_agent
    ).status_code


def leave_cart(client, site, *, vid, user_agent, cart_id):
    cart = {
        "id": cart_id,
        "currency": "EUR",
        "total": 899,
        "url": f"https://shop.example/panier?restore={cart_id}",
        "items": [{"sku": "A1", "name": "Canapé", "price": 899, "quantity": 1}],
    }
    response = collect(client, site, {"type": "cart", "cart": cart}, vid=vid, user_agent=user_agent)
    assert response.status_code == 204


def owner_of(vid):
    link = VisitorLink.objects.filter(visitor__vid=vid).select_related("contact").first()
    return (link.contact.phone, link.method) if link else None


def sms_to(phone):
    return list(OutboxMessage.objects.filter(to=phone).values_list("body", flat=True))


def dispatch_an_hour_later():
    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        run_pass(deliver_inline=True)


def test_a_posted_link_links_no_follower_and_sends_the_poster_none_of_their_carts(client, shop):
    with time_machine.travel(MORNING, tick=False):
        token = tap(client, IPHONE)
        # His page loads and sends the token back: his own browser is his.
        assert present(client, shop, token, vid=POSTER_VID, user_agent=IPHONE) == 204
    # He posts the landing URL with its token (from his history); followers open it, one of
    # them on the same phone model as his, and leave carts.
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        answers = [
            present(client, shop, token, vid=vid, user_agent=agent)
            for vid, agent in ((FOLLOWER_VID, ANDROID), (TWIN_VID, IPHONE))
        ]
        for vid, agent in ((FOLLOWER_VID, ANDROID), (TWIN_VID, IPHONE)):
            leave_cart(client, shop, vid=vid, user_agent=agent, cart_id=vid[:6])
    assert answers == [204, 204]  # the same answer as an honoured token: nothing to learn
    assert owner_of(FOLLOWER_VID) is None and owner_of(TWIN_VID) is None
    dispatch_an_hour_later()
    assert sms_to(POSTER) == []
    # Control: the poster's own browser, linked by his tap, gets its cart reminded.
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        leave_cart(client, shop, vid=POSTER_VID, user_agent=IPHONE, cart_id="poster")
    with time_machine.travel(MORNING + timedelta(hours=2), tick=False):
        run_pass(deliver_inline=True)
    assert owner_of(POSTER_VID) == (POSTER, "token")
    (reminder,) = sms_to(POSTER)
    assert "/s/" in reminder


def test_a_token_its_browser_never_sent_is_refused_from_another_browser(client, shop):
    """The tap's page never sent it (a cookie banner left unanswered): another browser's
    identify with it links nothing and leaves it to the tapping browser."""
    with time_machine.travel(MORNING, tick=False):
        token = tap(client, IPHONE)
    with time_machine.travel(MORNING + timedelta(minutes=1), tick=False):
        assert present(client, shop, token, vid=FOLLOWER_VID, user_agent=ANDROID) == 204
        assert owner_of(FOLLOWER_VID) is None
        assert not UsedToken.objects.exists()
        # Control: the tapping browser, within the window.
        assert present(client, shop, token, vid=POSTER_VID, user_agent=IPHONE) == 204
    assert owner_of(POSTER_VID) == (POSTER, "token")


@pytest.mark.parametrize(
    ("after", "linked"),
    [
        (timedelta(seconds=1), True),
        (WINDOW - timedelta(seconds=1), True),
        (WINDOW + timedelta(seconds=1), False),
        (timedelta(days=29), False),
    ],
    ids=["at-once", "last-second", "just-after", "a-month-later"],
)
def test_a_token_is_honoured_only_within_its_window_after_the_tap(client, shop, after, linked):
    with time_machine.travel(MORNING, tick=False):
        token = tap(client, IPHONE)
    with time_machine.travel(MORNING + after, tick=False):
        assert present(client, shop, token, vid=POSTER_VID, user_agent=IPHONE) == 204
    assert owner_of(POSTER_VID) == ((POSTER, "token") if linked else None)


def test_a_token_is_honoured_once_even_by_the_browser_that_tapped(client, shop):
    with time_machine.travel(MORNING, tick=False):
        token = tap(client, IPHONE)
        assert present(client, shop, token, vid=POSTER_VID, user_agent=IPHONE) == 204
        # The same browser after its cookies were cleared: a new visitor id, same user agent.
        assert present(client, shop, token, vid=TWIN_VID, user_agent=IPHONE) == 204
    assert owner_of(POSTER_VID) == (POSTER, "token") and owner_of(TWIN_VID) is None
    # Control: the token of the first tap, presented by the browser that tapped, was honoured.


def test_only_the_first_tap_of_a_link_gets_a_token(client, shop):
    """An SMS forwarded, screenshotted or posted: whoever taps its link after the customer
    lands on the cart without her token, so no other browser becomes hers."""
    with time_machine.travel(MORNING, tick=False):
        token = tap(client, IPHONE)
        assert present(client, shop, token, vid=POSTER_VID, user_agent=IPHONE) == 204
    with time_machine.travel(MORNING + timedelta(days=2), tick=False):
        for agent in (ANDROID, IPHONE):
            response = client.get("/s/Abc123defg", HTTP_USER_AGENT=agent)
            assert response.status_code == 302
            query = parse_qs(urlsplit(response["Location"]).query)
            assert "_rl" not in query and query["restore"] == ["1"]  # still the cart
    assert owner_of(POSTER_VID) == (POSTER, "token")
    assert VisitorLink.objects.count() == 1


def test_a_preview_fetch_or_a_head_request_does_not_use_up_the_links_token(client, shop):
    with time_machine.travel(MORNING, tick=False):
        assert client.head("/s/Abc123defg", HTTP_USER_AGENT=IPHONE).status_code == 302
        preview = client.get("/s/Abc123defg", HTTP_USER_AGENT="WhatsApp/2.24.1 A")
        assert "_rl" not in parse_qs(urlsplit(preview["Location"]).query)
        token = tap(client, IPHONE)  # the person's tap still gets it
        assert present(client, shop, token, vid=POSTER_VID, user_agent=IPHONE) == 204
    assert owner_of(POSTER_VID) == (POSTER, "token")


def _follower_on_the_posters_token(client, shop):
    """The follower's browser took the poster's token (it opened the posted link first, on the
    same phone model, before the poster's page sent it): linked to the poster."""
    with time_machine.travel(MORNING, tick=False):
        token = tap(client, IPHONE)
        assert present(client, shop, token, vid=FOLLOWER_VID, user_agent=IPHONE) == 204
    assert owner_of(FOLLOWER_VID) == (POSTER, "token")


def test_the_followers_own_confirmed_identify_replaces_a_token_link(client, shop):
    _follower_on_the_posters_token(client, shop)
    consent = {"granted": True, "text": "J'accepte les SMS", "source": "checkout"}
    with time_machine.travel(MORNING + timedelta(minutes=1), tick=False):
        typed = {"type": "identify", "phone": "06 98 76 54 32", "consent": consent}
        assert collect(client, shop, typed, vid=FOLLOWER_VID, user_agent=IPHONE).status_code == 204
        leave_cart(client, shop, vid=FOLLOWER_VID, user_agent=IPHONE, cart_id="follower")
    follower = Contact.objects.get(phone=FOLLOWER)
    assert follower.consent_status == ConsentStatus.PENDING
    # The follower confirms with the link of the confirmation SMS: the owner's proof.
    with time_machine.travel(MORNING + timedelta(minutes=3), tick=False):
        assert client.post(f"/o/c/{follower.confirmation_code}").status_code == 200
    follower.refresh_from_db()
    assert follower.consent_status == ConsentStatus.CONFIRMED
    assert owner_of(FOLLOWER_VID) == (FOLLOWER, "snippet")
    dispatch_an_hour_later()
    assert sms_to(POSTER) == []
    reminders = [body for body in sms_to(FOLLOWER) if "/s/" in body]
    assert len(reminders) == 1


def test_the_shops_server_identifying_the_follower_replaces_a_token_link(client, shop):
    from retargeting.sites.keys import hash_secret_key, new_secret_key

    secret = new_secret_key()
    shop.secret_key_hash = hash_secret_key(secret)
    shop.save()
    _follower_on_the_posters_token(client, shop)
    response = client.post(
        "/api/v1/identify",
        data=json.dumps(
            {
                "phone": FOLLOWER,
                "vid": FOLLOWER_VID,
                "consent": {"granted": True, "text": "J'accepte", "source": "account"},
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200, response.json()
    assert owner_of(FOLLOWER_VID) == (FOLLOWER, "server")
