"""Back in stock from end to end: requests through the collector (``POST /t/e``) and the
server API (``POST /api/v1/back_in_stock``), a restock, the dispatch pass, the SMS in the
outbox and the email in a real SMTP server.

Until the catalog's stock service lands (``POST /api/v1/products`` and the platforms'
webhooks), a restock is written here as that service will write it: ``Product.available``
becomes true and ``restocked_at`` is the moment of the change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from campaigns import flows
from campaigns.back_in_stock import WORST_PRODUCT_NAME, BackInStock
from campaigns.dispatch import run_pass
from campaigns.models import Flow, Send, Step, StockRequest, Trigger
from campaigns.sending import deliver_batch
from campaigns.sms_text import (
    CODE_LENGTH,
    compose,
    sample_opt_out_url,
    short_link_base,
)
from campaigns.stock_requests import SMS_TEXT
from campaigns.trigger_registry import trigger_room
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.channels import Channel
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.models import Language
from retargeting.sites.services import create_site
from retargeting.sms import segments
from retargeting.tracking.models import Product, Visitor

pytestmark = pytest.mark.django_db

ORIGIN = "https://boutique.example"
NUMBER, TYPED = "+33612345678", "06 12 34 56 78"
ADDRESS = "marie@example.fr"
BROWSER = "b" * 32
WORDING = "Prévenez-moi quand ce produit est de retour"
CONSENT = {"granted": True, "text": WORDING, "source": "product_page"}
# A Tuesday, 10:00 in Paris: within the quiet hours' opening.
TUESDAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Shop:
    def __init__(self, *, quiet_hours: str = "none", channel: str = "sms_else_email") -> None:
        created = create_site(
            name="Boutique", domains=["boutique.example"], country="FR", quiet_hours=quiet_hours
        )
        self.site, self.secret_key = created.site, created.secret_key
        self.site.email_from = "bonjour@boutique.example"
        self.site.save()
        self.flow = Flow.objects.create(
            site=self.site, name="Retour en stock", slug="retour", trigger=Trigger.BACK_IN_STOCK
        )
        texts = BackInStock().default_texts(Language.FR)
        self.step = Step.objects.create(
            flow=self.flow,
            position=1,
            delay_minutes=0,
            channel=channel,
            template=texts.sms + "\nSTOP au 36179",
            subject=texts.subject,
            email_template=texts.email,
        )
        self.product = Product.objects.create(
            site=self.site,
            external_id="P1",
            name="Chemise en lin",
            url="https://boutique.example/p/chemise",
            available=False,
            updated_at=TUESDAY,
        )

    def restock(self, product: Product | None = None, *, at: datetime | None = None) -> None:
        """What the stock service writes on a change from unavailable to available."""
        product = product or self.product
        at = at or datetime.now(tz=UTC)
        Product.objects.filter(pk=product.pk).update(
            available=True, restocked_at=at, stock_changed_at=at
        )

    def sell_out(self, product: Product | None = None) -> None:
        Product.objects.filter(pk=(product or self.product).pk).update(available=False)


@pytest.fixture
def shop(settings):
    settings.PUBLIC_BASE_URL = "https://relance.example"
    settings.SHORT_LINK_BASE_URL = ""
    return Shop()


def api(client, shop, body):
    return client.post(
        "/api/v1/back_in_stock",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    )


def snippet(client, shop, event, *, vid=BROWSER, ip="203.0.113.9"):
    body = {"site": shop.site.public_key, "vid": vid, "events": [event]}
    return client.post(
        "/t/e",
        data=json.dumps(body),
        content_type="text/plain",
        HTTP_ORIGIN=ORIGIN,
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
        REMOTE_ADDR=ip,
    )


def alerts(number=NUMBER):
    """The alerts the number got (its confirmations left out)."""
    return [m for m in OutboxMessage.objects.filter(to=number) if "/b/" not in m.body]


def confirmations(number=NUMBER):
    return [m for m in OutboxMessage.objects.filter(to=number) if "/b/" in m.body]


def link_in(text: str, path: str) -> str:
    return next(word for word in text.split() if f"relance.example{path}" in word)


# --- A restock, once per request ----------------------------------------------------------


def test_a_restock_alerts_each_confirmed_request_once_by_its_own_channel(
    client, shop, smtp, django_capture_on_commit_callbacks
):
    with time_machine.travel(TUESDAY, tick=False):
        assert api(client, shop, {"product_id": "P1", "phone": TYPED, "consent": CONSENT}).json()[
            "ok"
        ]
        api(client, shop, {"product_id": "P1", "email": "Marie@Example.fr", "consent": CONSENT})
        # Control: a request for a product that does not come back.
        other = Product.objects.create(
            site=shop.site, external_id="P2", available=False, updated_at=TUESDAY
        )
        api(client, shop, {"product_id": "P2", "phone": "06 98 76 54 32", "consent": CONSENT})
        run_pass(deliver_inline=True)
        assert OutboxMessage.objects.count() == 0 and smtp.messages == []  # still out of stock
    requests = StockRequest.objects.order_by("pk")
    assert [r.confirmed_at for r in requests] == [TUESDAY] * 3  # the shop's server vouches
    assert requests[0].text == WORDING and requests[0].source == "product_page"

    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        shop.restock()
        report = run_pass(deliver_inline=True)
    assert report.sent == 2
    [sms] = alerts()
    assert sms.body.startswith("Boutique : Chemise en lin est de retour ! ")
    [email] = smtp.messages
    assert email.message["To"] == ADDRESS
    assert "Chemise en lin" in email.message.get_body(preferencelist=("plain",)).get_content()
    assert OutboxMessage.objects.filter(to="+33698765432").count() == 0
    assert other.stock_requests.get().confirmed_at is not None
    # The link leads to the product's page.
    followed = client.get(urlsplit(link_in(sms.body, "/s/")).path)
    assert followed.status_code == 302
    assert followed["Location"].startswith("https://boutique.example/p/chemise?")

    # A second restock sends nothing more to the same requests.
    with time_machine.travel(TUESDAY + timedelta(days=2), tick=False):
        shop.sell_out()
        run_pass(deliver_inline=True)
        shop.restock()
        run_pass(deliver_inline=True)
    assert len(alerts()) == 1 and len(smtp.messages) == 1
    assert Send.objects.filter(step=shop.step).count() == 2


def test_an_email_request_is_never_sent_by_sms_nor_an_sms_request_by_email(client, shop, smtp):
    # Her contact has both addresses: the request says which one she gave for this.
    Contact.objects.create(site=shop.site, phone=NUMBER, email=ADDRESS, region="FR")
    with time_machine.travel(TUESDAY, tick=False):
        api(client, shop, {"product_id": "P1", "email": ADDRESS, "consent": CONSENT})
    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        shop.restock()
        run_pass(deliver_inline=True)
    assert OutboxMessage.objects.count() == 0
    assert [m.message["To"] for m in smtp.messages] == [ADDRESS]


def test_a_step_on_sms_only_leaves_the_email_requests_alone(client, settings, smtp):
    settings.PUBLIC_BASE_URL = "https://relance.example"
    shop = Shop(channel="sms")
    with time_machine.travel(TUESDAY, tick=False):
        api(client, shop, {"product_id": "P1", "email": ADDRESS, "consent": CONSENT})
        api(client, shop, {"product_id": "P1", "phone": NUMBER, "consent": CONSENT})
    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        shop.restock()
        run_pass(deliver_inline=True)
    assert smtp.messages == []
    assert len(alerts()) == 1  # control: the SMS request on the SMS step


# --- A claim waits for its owner ----------------------------------------------------------


@override_settings(PUBLIC_BASE_URL="https://relance.example", SHORT_LINK_BASE_URL="")
def test_a_claim_sends_nothing_until_its_owner_confirms_it(
    client, shop, django_capture_on_commit_callbacks
):
    with time_machine.travel(TUESDAY, tick=False):
        event = {
            "type": "back_in_stock",
            "product": {"id": "P1", "name": "Ignored"},
            "phone": TYPED,
            "consent": CONSENT,
        }
        with django_capture_on_commit_callbacks(execute=True):
            assert snippet(client, shop, event).status_code == 204
        request = StockRequest.objects.get()
        assert request.confirmed_at is None
        assert (request.ip, request.user_agent) == ("203.0.113.0", "Mozilla/5.0 (iPhone)")
        [asked] = confirmations()
        assert segments.count(asked.body).segments == 1
    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        shop.restock()
        run_pass(deliver_inline=True)
        assert alerts() == []  # unconfirmed: nothing
        link = urlsplit(link_in(asked.body, "/b/")).path
        page = client.get(link)  # opening the link (a preview) changes nothing
        assert page.status_code == 200 and "Chemise en lin" in page.content.decode()
        request.refresh_from_db()
        assert request.confirmed_at is None
        assert client.post(link).status_code == 200
        request.refresh_from_db()
        assert request.confirmed_at == TUESDAY + timedelta(hours=1)
        run_pass(deliver_inline=True)
    assert len(alerts()) == 1
    # It gave no marketing consent and tied the browser to nobody.
    contact = Contact.objects.get(phone=NUMBER)
    assert (contact.consent_status, contact.email_consent_status) == ("none", "none")
    assert not VisitorLink.objects.exists()
    assert Product.objects.get(external_id="P1").name == "Chemise en lin"  # the page's name ignored


def test_a_forged_confirmation_link_confirms_nothing(client, shop):
    with time_machine.travel(TUESDAY, tick=False):
        event = {"type": "back_in_stock", "product": {"id": "P1"}, "phone": TYPED}
        assert snippet(client, shop, {**event, "consent": CONSENT}).status_code == 204
        request = StockRequest.objects.get()
        assert client.post(f"/b/{request.pk}-0000000000000000").status_code == 404
    request.refresh_from_db()
    assert request.confirmed_at is None


def test_a_browser_proven_the_numbers_asks_without_a_confirmation(
    client, shop, django_capture_on_commit_callbacks
):
    # A subscriber who tapped our SMS's link from this browser.
    contact = Contact.objects.create(site=shop.site, phone=NUMBER, region="FR")
    record_consent(contact=contact, status=ConsentStatus.CONFIRMED, source=ConsentSource.ADMIN)
    visitor = Visitor.objects.create(
        site=shop.site, vid=BROWSER, first_seen_at=TUESDAY, last_seen_at=TUESDAY
    )
    VisitorLink.objects.create(visitor=visitor, contact=contact, method="token", linked_at=TUESDAY)
    with time_machine.travel(TUESDAY, tick=False):
        event = {"type": "back_in_stock", "product": {"id": "P1"}, "phone": TYPED}
        with django_capture_on_commit_callbacks(execute=True):
            assert snippet(client, shop, {**event, "consent": CONSENT}).status_code == 204
        # Control: another browser claiming the same number must confirm.
        with django_capture_on_commit_callbacks(execute=True):
            snippet(
                client, shop, {**event, "product": {"id": "P9"}, "consent": CONSENT}, vid="c" * 32
            )
    mine, claimed = StockRequest.objects.order_by("pk")
    assert mine.confirmed_at == TUESDAY and claimed.confirmed_at is None
    assert len(confirmations()) == 1


def test_a_tap_proved_by_email_proves_nothing_of_the_number(
    client, shop, django_capture_on_commit_callbacks
):
    """A contact may hold a number and an address: a browser linked by a tap on the address's
    email has not proved the number, whose alert must be confirmed by its own owner."""
    contact = Contact.objects.create(
        site=shop.site, phone=NUMBER, email="pair@example.fr", region="FR"
    )
    record_consent(
        contact=contact,
        status=ConsentStatus.CONFIRMED,
        source=ConsentSource.ADMIN,
        channel=Channel.EMAIL,
    )
    visitor = Visitor.objects.create(
        site=shop.site, vid=BROWSER, first_seen_at=TUESDAY, last_seen_at=TUESDAY
    )
    VisitorLink.objects.create(visitor=visitor, contact=contact, method="token", linked_at=TUESDAY)
    with time_machine.travel(TUESDAY, tick=False):
        event = {"type": "back_in_stock", "product": {"id": "P1"}, "phone": TYPED}
        with django_capture_on_commit_callbacks(execute=True):
            assert snippet(client, shop, {**event, "consent": CONSENT}).status_code == 204
    (request,) = StockRequest.objects.all()
    assert request.confirmed_at is None and len(confirmations()) == 1


def test_a_claim_spends_the_confirmation_limits_of_the_browser(client, shop):
    shop.site.confirmations_per_visitor_per_day = 2
    shop.site.save()
    with time_machine.travel(TUESDAY, tick=False):
        answers = [
            snippet(
                client,
                shop,
                {
                    "type": "back_in_stock",
                    "product": {"id": f"P{n}"},
                    "phone": f"06 12 34 56 0{n}",
                    "consent": CONSENT,
                },
            ).status_code
            for n in range(3)
        ]
    assert answers == [204, 204, 429]
    assert StockRequest.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"product": {"id": "P1"}, "phone": TYPED}, "consent"),
        ({"product": {"id": "P1"}, "phone": TYPED, "email": ADDRESS, "consent": CONSENT}, "phone"),
        ({"product": {}, "phone": TYPED, "consent": CONSENT}, "product.id"),
        ({"product": {"id": "P1"}, "phone": "04 72 00 00 00", "consent": CONSENT}, "phone"),
        (
            {"product": {"id": "P1"}, "phone": TYPED, "consent": {**CONSENT, "granted": False}},
            "consent",
        ),
    ],
)
def test_a_malformed_request_is_refused_and_nothing_is_recorded(client, shop, body, field):
    answer = snippet(client, shop, {"type": "back_in_stock", **body})
    assert answer.status_code == 400 and field in answer.json()["error"]
    assert not StockRequest.objects.exists() and not Contact.objects.exists()


def test_the_server_api_needs_the_secret_key_and_a_product_id(client, shop):
    body = {"product_id": "P1", "phone": TYPED, "consent": CONSENT}
    refused = client.post(
        "/api/v1/back_in_stock", data=json.dumps(body), content_type="application/json"
    )
    assert refused.status_code == 401
    assert api(client, shop, {**body, "product_id": ""}).status_code == 400
    assert not StockRequest.objects.exists()
    assert api(client, shop, body).status_code == 200  # control


def test_an_unknown_product_is_created_with_its_id_only(client, shop):
    with time_machine.travel(TUESDAY, tick=False):
        api(client, shop, {"product_id": 77, "email": ADDRESS, "consent": CONSENT})
    product = Product.objects.get(external_id="77")
    assert (product.name, product.url, product.available) == ("", "", None)
    assert product.stock_requests.get().expires_at == TUESDAY + timedelta(days=90)


# --- What stops it ------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "alerted"), [(89, 1), (91, 0)])
def test_a_request_waits_90_days(client, shop, days, alerted):
    with time_machine.travel(TUESDAY, tick=False):
        api(client, shop, {"product_id": "P1", "phone": NUMBER, "consent": CONSENT})
    with time_machine.travel(TUESDAY + timedelta(days=days), tick=False):
        shop.restock()
        run_pass(deliver_inline=True)
    assert len(alerts()) == alerted


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_number_that_said_stop_gets_nothing(client, shop, when):
    contact = Contact.objects.create(site=shop.site, phone=NUMBER, region="FR")
    stop = {"contact": contact, "status": ConsentStatus.REVOKED, "source": ConsentSource.KEYWORD}
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    with time_machine.travel(TUESDAY, tick=False):
        if when == "before":
            record_consent(**stop)
        api(client, shop, {"product_id": "P1", "phone": NUMBER, "consent": CONSENT})
        # Control: another number is alerted by the same restock.
        api(client, shop, {"product_id": "P1", "phone": "06 98 76 54 32", "consent": CONSENT})
        if when == "after":
            record_consent(**stop)
    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        shop.restock()
        run_pass(deliver_inline=True)
    assert alerts() == []
    assert len(alerts("+33698765432")) == 1
    contact.refresh_from_db()
    assert contact.consent_status == "revoked"


def test_out_of_stock_again_before_the_alert_goes_sends_nothing(client, settings):
    settings.PUBLIC_BASE_URL = "https://relance.example"
    shop = Shop(quiet_hours="fr_strict")
    sunday_night = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)  # 22:00 in Paris: quiet hours
    with time_machine.travel(sunday_night, tick=False):
        api(client, shop, {"product_id": "P1", "phone": NUMBER, "consent": CONSENT})
        other = Product.objects.create(
            site=shop.site, external_id="P2", name="Pull", available=False, updated_at=TUESDAY
        )
        api(client, shop, {"product_id": "P2", "phone": NUMBER, "consent": CONSENT})
    with time_machine.travel(sunday_night + timedelta(minutes=5), tick=False):
        shop.restock()
        shop.restock(other)
        run_pass(deliver_inline=True)
        assert OutboxMessage.objects.count() == 0  # held until Monday morning
        shop.sell_out()
    with time_machine.travel(sunday_night + timedelta(hours=12), tick=False):
        run_pass(deliver_inline=True)
    [sent] = alerts()  # control: the product still available went
    assert "Pull" in sent.body
    assert set(Send.objects.values_list("status", "reason")) == {
        ("delivered", ""),  # the SMS outbox reports delivery
        ("cancelled", "sold_out_again"),
    }


def test_an_alert_too_late_after_its_restock_is_dropped_as_stale(client, shop):
    with time_machine.travel(TUESDAY, tick=False):
        api(client, shop, {"product_id": "P1", "phone": NUMBER, "consent": CONSENT})
    with time_machine.travel(TUESDAY + timedelta(hours=74), tick=False):
        shop.restock(at=TUESDAY + timedelta(hours=1))
        run_pass(deliver_inline=True)
        assert alerts() == []
        shop.restock(at=TUESDAY + timedelta(hours=3))  # control
        run_pass(deliver_inline=True)
    assert len(alerts()) == 1


# --- Its words ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", [Language.FR, Language.EN])
@pytest.mark.parametrize(("route", "shop_name"), [("reply", 30), ("link", 24)])
def test_the_default_alert_and_the_confirmation_fit_one_gsm7_segment(
    shop, language, route, shop_name, monkeypatch
):
    if route == "link":  # an alphanumeric sender nobody can answer: the opt-out is a link
        monkeypatch.setattr(flows, "opt_out_route", lambda site: flows.OptOutRoute.LINK)
    shop.site.language = language
    shop.site.name = "B" * shop_name
    room = trigger_room(Trigger.BACK_IN_STOCK)
    assert isinstance(room, BackInStock)
    texts = room.default_texts(language)
    shop.step.template = texts.sms_with_link if route == "link" else texts.sms
    longest = compose(
        shop.step,
        shop.site,
        {
            **room.worst_values(shop.site),
            "shop": shop.site.name,
            "link": f"{short_link_base()}/s/{'x' * CODE_LENGTH}",
            "stop_link": sample_opt_out_url(),
        },
    )
    # The product's name at its longest, where the text names it.
    # (Its last letter, outside GSM-7, is transliterated by the flow.)
    assert (WORST_PRODUCT_NAME[:-1] in longest) == ("product_name" in shop.step.template)
    assert (sample_opt_out_url() in longest) == (route == "link")
    counted = segments.count(longest)
    assert (counted.segments, counted.ucs2_characters) == (1, ()), (len(longest), longest)
    link = "https://relance.example/b/" + "9" * 10 + "-" + "f" * 16
    asked = SMS_TEXT[language].format(shop="B" * 30, link=link)
    counted = segments.count(asked)
    assert (counted.segments, counted.ucs2_characters) == (1, ()), asked


# --- Claims by email, lost tasks, and what a pass costs -------------------------------------


def test_an_address_typed_in_a_page_gets_one_confirmation_email_then_the_alert(
    client, shop, smtp, django_capture_on_commit_callbacks
):
    with time_machine.travel(TUESDAY, tick=False):
        event = {"type": "back_in_stock", "product": {"id": "P1"}, "email": ADDRESS}
        with django_capture_on_commit_callbacks(execute=True):
            assert snippet(client, shop, {**event, "consent": CONSENT}).status_code == 204
        [asked] = smtp.messages
        text = asked.message.get_body(preferencelist=("plain",)).get_content()
        assert "Chemise en lin" in text
        link = urlsplit(link_in(text, "/b/")).path
    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        shop.restock()
        run_pass(deliver_inline=True)
        assert len(smtp.messages) == 1  # unconfirmed: no alert
        client.post(link)
        run_pass(deliver_inline=True)
    assert len(smtp.messages) == 2 and OutboxMessage.objects.count() == 0
    contact = Contact.objects.get(email=ADDRESS)
    assert contact.email_consent_status == "none"


def test_a_confirmation_whose_task_was_lost_is_sent_by_the_next_pass_once(client, shop):
    with time_machine.travel(TUESDAY, tick=False):
        event = {"type": "back_in_stock", "product": {"id": "P1"}, "phone": TYPED}
        # No on-commit callbacks run: the task never reached the worker.
        assert snippet(client, shop, {**event, "consent": CONSENT}).status_code == 204
        assert confirmations() == []
        run_pass(deliver_inline=True)
        run_pass(deliver_inline=True)
    assert len(confirmations()) == 1


def _requests(shop, count, *, at):
    for n in range(count):
        contact = Contact.objects.create(site=shop.site, phone=f"+336{n:08d}", region="FR")
        StockRequest.objects.create(
            site=shop.site,
            product=shop.product,
            contact=contact,
            channel="sms",
            text=WORDING,
            source="server_api",
            requested_at=at,
            confirmed_at=at,
            expires_at=at + timedelta(days=90),
        )


def test_a_pass_costs_the_same_queries_for_3_or_30_requests(settings):
    settings.PUBLIC_BASE_URL = "https://relance.example"
    counts = []
    for size in (3, 30):
        shop = Shop()
        _requests(shop, size, at=TUESDAY)
        shop.restock(at=TUESDAY + timedelta(hours=1))
        with time_machine.travel(TUESDAY + timedelta(hours=2), tick=False):
            enqueued: list[int] = []
            with CaptureQueriesContext(connection) as captured:
                run_pass(enqueue=enqueued.append)
            assert len(enqueued) == size
        counts.append(len(captured.captured_queries))
        shop.flow.is_active = False
        shop.flow.save()
        shop.site.sends.update(status="cancelled")
    assert counts[0] == counts[1], counts
    # Pinned (SQLite and PostgreSQL): the pass's own statements, the requests found in one.
    assert counts[0] <= 12, counts


def test_sending_a_batch_of_alerts_costs_the_same_queries_for_3_or_12(settings, twilio):
    """As a cart's batch (tests/campaigns/test_query_counts.py): constant per batch, and one
    write-ahead mark per message; the provider's emulator is outside the database."""
    settings.PUBLIC_BASE_URL = "https://relance.example"
    counts, marks = [], []
    for size in (3, 12):
        shop = Shop()
        _requests(shop, size, at=TUESDAY)
        shop.restock(at=TUESDAY + timedelta(hours=1))
        with time_machine.travel(TUESDAY + timedelta(hours=2), tick=False):
            run_pass(enqueue=lambda send_id: None)
            ids = list(shop.site.sends.values_list("pk", flat=True))
            with CaptureQueriesContext(connection) as captured:
                outcomes = deliver_batch(send_ids=ids)
        assert list(outcomes.values()) == ["accepted"] * size
        sql = [query["sql"] for query in captured.captured_queries]
        marks.append(sum("SET handed_at =" in query for query in sql))
        counts.append(len(sql) - size)
        shop.flow.is_active = False
        shop.flow.save()
    assert marks == [3, 12], marks
    assert counts[0] == counts[1], counts
    # Pinned: the batch's statements and savepoints, the requests read in one (and again
    # under the contacts' lock).
    assert counts[0] <= 19, counts


def test_asking_again_while_waiting_is_the_same_request_and_after_the_alert_a_new_one(client, shop):
    body = {"product_id": "P1", "phone": NUMBER, "consent": CONSENT}
    with time_machine.travel(TUESDAY, tick=False):
        api(client, shop, body)
        api(client, shop, body)
    assert StockRequest.objects.count() == 1
    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        shop.restock()
        run_pass(deliver_inline=True)
    assert len(alerts()) == 1
    with time_machine.travel(TUESDAY + timedelta(days=3), tick=False):
        shop.sell_out()
        api(client, shop, body)  # she wants the next one too
        assert StockRequest.objects.count() == 2
    with time_machine.travel(TUESDAY + timedelta(days=5), tick=False):
        shop.restock()
        run_pass(deliver_inline=True)
    assert len(alerts()) == 2
