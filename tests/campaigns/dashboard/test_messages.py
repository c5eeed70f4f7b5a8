"""The messages list: what became of each message (sent, delivered, tapped, bought, with times
in the shop's zone), its filters, a message's history, "why no message was planned" for a
contact or cart the planner never took, and the CSV exports as a French or English spreadsheet
reads them."""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.dispatch import run_pass
from campaigns.models import (
    Click,
    Conversion,
    Send,
    SendEvent,
    SendStatus,
    ShortLink,
    Trigger,
)
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.sites.services import add_member
from tests.factories import (
    CartFactory,
    ContactFactory,
    FlowFactory,
    SendFactory,
    SiteFactory,
    StepFactory,
    VisitorFactory,
    VisitorLinkFactory,
)

pytestmark = pytest.mark.django_db
SENT = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 14:00 in Paris, a Monday
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 18:00 in Paris: within the sending hours
NIGHT = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)  # 21:30 in Paris: quiet hours


@pytest.fixture
def marketer(site):
    user = User.objects.create_user("marketer", password="x")
    add_member(site=site, user=user)
    return user


def consenting(site, phone, **kwargs):
    contact = ContactFactory(site=site, phone=phone, **kwargs)
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        text="J'accepte les SMS.",
        at=SENT - timedelta(days=10),
    )
    return contact


def tapped_and_bought(send, *, tapped_at, bought_at, total="59.90"):
    link = ShortLink.objects.create(
        send=send,
        code=f"m{send.pk}",
        target_url="https://shop.example/",
        created_at=send.sent_at,
        expires_at=send.sent_at + timedelta(days=30),
    )
    Click.objects.create(link=link, at=tapped_at)
    if bought_at:
        Conversion.objects.create(
            site=send.site,
            order_id=f"o{send.pk}",
            total=Decimal(total),
            currency="EUR",
            contact=send.contact,
            send=send,
            attribution=Conversion.Attribution.CLICKED,
            occurred_at=bought_at,
        )


@pytest.fixture
def shop(site):
    """Two flows; a message delivered, tapped and bought; one delivered only; one by email
    sent only; one waiting."""
    carts = FlowFactory(site=site, name="Panier")
    first, second = StepFactory(flow=carts), StepFactory(flow=carts, position=2)
    welcome = StepFactory(flow__site=site, flow__name="Bienvenue", flow__trigger=Trigger.WELCOME)
    marie = consenting(site, "+33612345678", first_name="Marie", email="marie@example.fr")
    lucas = consenting(site, "+33698765432", first_name="Lucas")

    def sent(step, contact, *, delivered=True, **kwargs):
        with time_machine.travel(SENT - timedelta(minutes=5), tick=False):
            send = SendFactory(
                site=site,
                step=step,
                contact=contact,
                cart__visitor__site=site,
                status=SendStatus.DELIVERED if delivered else SendStatus.SENT,
                sent_at=SENT,
                cost=Decimal("0.0450"),
                **kwargs,
            )
        if delivered:
            SendEvent.objects.create(
                send=send,
                status=SendStatus.DELIVERED,
                source="provider",
                at=SENT + timedelta(minutes=1),
            )
        return send

    bought = sent(first, marie)
    tapped_and_bought(
        bought,
        tapped_at=SENT + timedelta(minutes=10),
        bought_at=SENT + timedelta(minutes=30),
    )
    delivered = sent(second, lucas)
    email = sent(welcome, marie, delivered=False, channel="email")
    with time_machine.travel(SENT, tick=False):
        waiting = SendFactory(site=site, step=first, contact=lucas, cart__visitor__site=site)
    return {
        "bought": bought,
        "delivered": delivered,
        "email": email,
        "waiting": waiting,
        "carts": carts,
        "first": first,
        "second": second,
        "welcome": welcome,
    }


def listed(client, site, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    response = client.get(f"/dashboard/sends/?site={site.pk}&{query}")
    assert response.status_code == 200
    return response, [row["send"].pk for row in response.context["rows"]]


def row_of(page, send):
    """The HTML of ``send``'s row in the list."""
    start = page.index(f"/dashboard/sends/{send.pk}/")
    return page[start : page.index("</tr>", start)]


@time_machine.travel(NOW, tick=False)
def test_each_message_shows_sent_delivered_tapped_and_bought_in_the_shops_zone(
    client, marketer, site, shop
):
    client.force_login(marketer)
    response, _ = listed(client, site)
    page = html.unescape(response.content.decode())
    assert page.count("heure de Paris") == 1  # the zone named once
    bought = row_of(page, shop["bought"])
    assert '"sent">23 nov. 2026, 14:00<' in bought
    assert '"delivered">14:01<' in bought
    assert '"tapped">14:10<' in bought
    assert '"bought">14:30 · 59,90 €<' in bought
    # The control: delivered, never tapped nor bought.
    delivered = row_of(page, shop["delivered"])
    assert '"delivered">14:01<' in delivered
    assert '"tapped">–<' in delivered and '"bought">–<' in delivered
    assert '"sent">–<' in row_of(page, shop["waiting"])
    # In English, the same moments (24-hour, the shop's clock), English money.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response, _ = listed(client, site)
    page = html.unescape(response.content.decode())
    bought = row_of(page, shop["bought"])
    assert "Paris time" in page
    assert '"sent">23 Nov. 2026, 14:00<' in bought and '"bought">14:30 · €59.90<' in bought


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "delivered"}, ["bought", "delivered"]),
        ({"status": "tapped"}, ["bought"]),
        ({"status": "bought"}, ["bought"]),
        ({"status": "sent"}, ["bought", "delivered", "email"]),
        ({"status": "waiting"}, ["waiting"]),
        ({"channel": "email"}, ["email"]),
        ({"channel": "sms"}, ["bought", "delivered", "waiting"]),
        ({"status": "bought", "channel": "email"}, []),
        ({}, ["bought", "delivered", "email", "waiting"]),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_the_list_filters_by_state_and_channel(client, marketer, site, shop, params, expected):
    client.force_login(marketer)
    _, found = listed(client, site, **params)
    assert sorted(found) == sorted(shop[name].pk for name in expected)


@time_machine.travel(NOW, tick=False)
def test_the_list_filters_by_flow_and_by_step(client, marketer, site, shop):
    client.force_login(marketer)
    _, by_flow = listed(client, site, flow=shop["carts"].pk)
    assert sorted(by_flow) == sorted(shop[n].pk for n in ("bought", "delivered", "waiting"))
    _, other_flow = listed(client, site, flow=shop["welcome"].flow.pk)
    assert other_flow == [shop["email"].pk]
    _, by_step = listed(client, site, step=shop["second"].pk)
    assert by_step == [shop["delivered"].pk]
    _, first_step = listed(client, site, step=shop["first"].pk)
    assert sorted(first_step) == sorted([shop["bought"].pk, shop["waiting"].pk])
    # Another shop's flow finds nothing here; a malformed one is ignored.
    _, foreign = listed(client, site, flow=FlowFactory().pk)
    assert foreign == []
    _, ignored = listed(client, site, flow="x")
    assert len(ignored) == 4


@time_machine.travel(NOW, tick=False)
def test_a_messages_page_tells_its_history_in_words_with_times(client, marketer, site, shop):
    send = shop["bought"]
    SendEvent.objects.create(
        send=send, status=SendStatus.PLANNED, source="planner", at=SENT - timedelta(minutes=5)
    )
    SendEvent.objects.create(send=send, status=SendStatus.SENT, source="worker", at=SENT)
    client.force_login(marketer)
    page = html.unescape(client.get(f"/dashboard/sends/{send.pk}/?site={site.pk}").content.decode())
    history = page[page.index('id="history"') :]
    # The states are the enum's labels (in French once their catalogue has them), the rest
    # this page's own words.
    moments = [
        ("13:55:00", ("Planned", "Prévu"), "planification"),
        ("14:00:00", ("Sent", "Envoyé"), "envoi"),
        ("14:01:00", ("Delivered", "Remis"), "le fournisseur"),
        ("14:10:00", ("Cliqué",), ""),
        ("14:30:00", ("Acheté",), "commande o"),
    ]
    positions = [history.index(f"23 nov. 2026, {time}") for time, _, _ in moments]
    assert positions == sorted(positions)  # oldest first
    for time, what, words in moments:
        line = history[history.index(f"23 nov. 2026, {time}") :]
        line = line[: line.index("</tr>")]
        assert any(f">{one}<" in line for one in what) and words in line, line
    assert "59,90 €" in history
    assert "worker" not in history and "provider" not in history  # the engine's words


# -- Why no message was planned -------------------------------------------------------------


def abandoned(site, contact, *, changed, external_id="4711", **kwargs):
    """``contact``'s browser with a cart of two items last changed at ``changed``."""
    visitor = VisitorFactory(site=site)
    VisitorLinkFactory(visitor=visitor, contact=contact)
    return CartFactory(visitor=visitor, external_id=external_id, last_change_at=changed, **kwargs)


def why(client, site, query):
    response = client.get(f"/dashboard/sends/?site={site.pk}&q={query}")
    assert response.status_code == 200
    return [(one.subject, one.reasons) for one in response.context["unplanned"]]


@pytest.fixture
def cart_flow(site):
    return StepFactory(flow__site=site, delay_minutes=30)


@time_machine.travel(NOW, tick=False)
def test_a_contact_who_said_stop_before_any_cart_was_planned_is_explained(
    client, marketer, site, cart_flow
):
    ines = consenting(site, "+33611111111", first_name="Inès")
    record_consent(
        contact=ines,
        status=ConsentStatus.REVOKED,
        source=ConsentSource.KEYWORD,
        at=datetime(2026, 11, 20, 9, 15, tzinfo=UTC),
    )
    abandoned(site, ines, changed=NOW - timedelta(hours=2))
    # The control: a consenting contact with the same cart is due.
    paul = consenting(site, "+33622222222", first_name="Paul")
    abandoned(site, paul, changed=NOW - timedelta(hours=2), external_id="4712")
    client.force_login(marketer)
    assert listed(client, site, q="06 11 11 11 11")[1] == []  # no message at all
    [(subject, reasons)] = why(client, site, "06 11 11 11 11")
    assert subject == "panier 4711, 59,90 €"
    assert reasons == ["Désinscrit (STOP) ou consentement retiré le 20 nov. 2026, 10:15"]
    assert why(client, site, "4711") == [(subject, reasons)]  # by the shop's cart id too
    assert why(client, site, "06 22 22 22 22")[0][1] == [
        "Dû : le prochain passage (chaque minute) le prévoit"
    ]
    # The explanation agrees with the planner.
    run_pass(enqueue=lambda send_id: None)
    assert Send.objects.filter(contact=paul).count() == 1
    assert not Send.objects.filter(contact=ines).exists()
    assert why(client, site, "06 22 22 22 22") == []  # planned now: the list shows it


@time_machine.travel(NOW, tick=False)
def test_no_consent_or_a_pending_one_is_explained(client, marketer, site, cart_flow):
    nobody = ContactFactory(site=site, phone="+33633333333")
    abandoned(site, nobody, changed=NOW - timedelta(hours=2))
    pending = ContactFactory(site=site, phone="+33644444444")
    record_consent(contact=pending, status=ConsentStatus.PENDING, source=ConsentSource.SNIPPET)
    abandoned(site, pending, changed=NOW - timedelta(hours=2), external_id="4713")
    client.force_login(marketer)
    assert why(client, site, "0633333333")[0][1] == ["Pas de consentement SMS"]
    assert why(client, site, "0644444444")[0][1] == ["Consentement SMS pas encore confirmé"]


@time_machine.travel(NOW, tick=False)
def test_a_capped_contact_is_explained_with_the_time_the_cap_frees(
    client, marketer, site, cart_flow
):
    capped = consenting(site, "+33655555555")
    SendFactory(  # a reminder of an older cart went out an hour ago: the cap is one a day
        site=site,
        step=cart_flow,
        contact=capped,
        cart__visitor__site=site,
        status=SendStatus.DELIVERED,
        sent_at=NOW - timedelta(hours=1),
    )
    abandoned(site, capped, changed=NOW - timedelta(hours=2))
    free = consenting(site, "+33666666666")
    SendFactory(
        site=site,
        step=cart_flow,
        contact=free,
        cart__visitor__site=site,
        status=SendStatus.DELIVERED,
        sent_at=NOW - timedelta(days=2),
    )
    abandoned(site, free, changed=NOW - timedelta(hours=2), external_id="4714")
    client.force_login(marketer)
    assert len(listed(client, site, q="0655555555")[1]) == 1  # the older cart's message
    [(_, reasons)] = why(client, site, "0655555555")
    assert reasons == ["Plafond de fréquence atteint : il attendra jusqu'au 24 nov. 2026, 17:00"], (
        reasons
    )
    assert why(client, site, "0666666666")[0][1] == [
        "Dû : le prochain passage (chaque minute) le prévoit"
    ]


def test_quiet_hours_and_a_cart_not_yet_due_are_explained(client, marketer, site, cart_flow):
    late = consenting(site, "+33677777777")
    abandoned(site, late, changed=NIGHT - timedelta(hours=2))
    client.force_login(marketer)
    with time_machine.travel(NIGHT, tick=False):
        [(_, reasons)] = why(client, site, "0677777777")
    assert len(reasons) == 1 and reasons[0].startswith(
        "Heures de silence : il attendra jusqu'au 24 nov. 2026, 08:"
    ), reasons
    early = consenting(site, "+33678787878")
    abandoned(site, early, changed=NOW - timedelta(hours=2), external_id="4716")
    with time_machine.travel(NOW, tick=False):  # the control: due within the sending hours
        assert why(client, site, "0678787878")[0][1] == [
            "Dû : le prochain passage (chaque minute) le prévoit"
        ]
    with time_machine.travel(NOW - timedelta(hours=2) + timedelta(minutes=10), tick=False):
        assert why(client, site, "0678787878")[0][1] == [
            "Pas encore dû : prévu à partir du 23 nov. 2026, 16:30, "
            "30 minutes après la dernière modification"
        ]


@time_machine.travel(NOW, tick=False)
def test_a_bought_cart_no_flow_or_no_cart_are_explained(client, marketer, site):
    client.force_login(marketer)
    marie = consenting(site, "+33688888888")
    abandoned(site, marie, changed=NOW - timedelta(hours=2))
    assert why(client, site, "0688888888")[0][1] == [
        "Aucun scénario actif pour les paniers abandonnés"
    ]
    step = StepFactory(flow__site=site)
    step.flow.is_active = False
    step.flow.save()
    assert why(client, site, "0688888888")[0][1] == [
        "Aucun scénario actif pour les paniers abandonnés"
    ]
    StepFactory(flow__site=site)  # the control: an active flow
    assert why(client, site, "0688888888")[0][1] == [
        "Dû : le prochain passage (chaque minute) le prévoit"
    ]
    bought = abandoned(
        site,
        marie,
        changed=NOW - timedelta(hours=3),
        external_id="4715",
        status="converted",
        converted_at=NOW - timedelta(hours=1),
    )
    assert why(client, site, bought.external_id)[0][1] == ["Acheté le 23 nov. 2026, 17:00"]
    alone = consenting(site, "+33699999999", first_name="Léa")
    [(subject, reasons)] = why(client, site, "0699999999")
    assert subject == "Léa +3369999••••"
    assert reasons == [
        "Aucun panier laissé par ce contact : une relance part d'un panier abandonné"
    ]
    assert alone.pk
    assert why(client, site, "garbage") == []


# -- CSV ------------------------------------------------------------------------------------


def export(client, url):
    response = client.get(url)
    assert response["Content-Type"].startswith("text/csv")
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with its BOM: Excel reads the accents
    return raw.decode("utf-8-sig")


@time_machine.travel(NOW, tick=False)
def test_french_exports_split_on_semicolons_with_decimal_commas(client, marketer, site, shop):
    client.force_login(marketer)
    text = export(client, f"/dashboard/exports/sends.csv?site={site.pk}&status=bought")
    assert text.splitlines()[0].startswith("send_id;planned_at;")
    [row] = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert row["send_id"] == str(shop["bought"].pk)
    assert row["cart_total"] == "59,90" and row["cost"] == "0,0450"
    assert row["bought_total"] == "59,90" and row["bought_currency"] == "EUR"
    assert row["tapped_at"] == "2026-11-23T14:10:00+01:00"  # ISO, in the shop's zone
    assert row["delivered_at"] == "2026-11-23T14:01:00+01:00"
    conversions = export(client, f"/dashboard/exports/conversions.csv?site={site.pk}")
    [purchase] = list(csv.DictReader(io.StringIO(conversions), delimiter=";"))
    assert purchase["total"] == "59,90" and purchase["occurred_at"].endswith("+01:00")
    # Read with commas, a French export is one column: what the separator is for.
    assert len(next(csv.reader(io.StringIO(text)))) == 1


@time_machine.travel(NOW, tick=False)
def test_english_exports_split_on_commas_with_decimal_dots(client, marketer, site, shop):
    client.force_login(marketer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = export(client, f"/dashboard/exports/sends.csv?site={site.pk}&status=bought")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["cart_total"] == "59.90" and row["cost"] == "0.0450"
    conversions = export(client, f"/dashboard/exports/conversions.csv?site={site.pk}")
    [purchase] = list(csv.DictReader(io.StringIO(conversions)))
    assert purchase["total"] == "59.90"


@time_machine.travel(NOW, tick=False)
def test_a_french_export_still_quotes_what_a_spreadsheet_would_run(client, marketer, site):
    cart = CartFactory(visitor__site=site, external_id="=1+2;x")
    SendFactory(site=site, cart=cart, step__flow__site=site, contact__site=site)
    client.force_login(marketer)
    text = export(client, f"/dashboard/exports/sends.csv?site={site.pk}")
    [row] = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert row["cart_id"] == "'=1+2;x"


# -- Query counts ---------------------------------------------------------------------------


def shop_of(size):
    """A shop with ``size`` messages delivered, tapped and bought, and a contact who said STOP
    with ``size`` carts never planned."""
    site = SiteFactory()
    step = StepFactory(flow__site=site)
    contact = consenting(site, f"+33611{site.pk:06d}", email=f"c{site.pk}@example.fr")
    with time_machine.travel(SENT - timedelta(minutes=5), tick=False):
        for index in range(size):
            send = SendFactory(
                site=site,
                step=step,
                contact=contact,
                cart__visitor__site=site,
                status=SendStatus.DELIVERED,
                sent_at=SENT,
                channel="email" if index % 2 else "sms",
            )
            SendEvent.objects.create(
                send=send, status=SendStatus.DELIVERED, source="provider", at=SENT
            )
            tapped_and_bought(
                send, tapped_at=SENT + timedelta(minutes=1), bought_at=SENT + timedelta(minutes=2)
            )
    stopped = consenting(site, f"+33622{site.pk:06d}")
    record_consent(contact=stopped, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    for index in range(size):
        abandoned(site, stopped, changed=NOW - timedelta(hours=2), external_id=f"c{index}")
    user = User.objects.create_user(f"m{site.pk}", password="x")
    add_member(site=site, user=user)
    return site, user, step, contact, stopped


PINNED = {
    "list": (lambda site, step, contact, stopped: f"/dashboard/sends/?site={site.pk}", 9),
    "bought": (
        lambda site, step, contact, stopped: f"/dashboard/sends/?site={site.pk}&status=bought",
        9,
    ),
    "flow-and-step": (
        lambda site, step, contact, stopped: (
            f"/dashboard/sends/?site={site.pk}&flow={step.flow_id}&step={step.pk}&status=tapped"
        ),
        9,
    ),
    "never-planned": (
        lambda site, step, contact, stopped: (
            f"/dashboard/sends/?site={site.pk}&q={stopped.phone.replace('+', '%2B')}"
        ),
        14,
    ),
    "message": (
        lambda site, step, contact, stopped: (
            f"/dashboard/sends/{contact.sends.first().pk}/?site={site.pk}"
        ),
        10,
    ),
    "export": (
        lambda site, step, contact, stopped: f"/dashboard/exports/sends.csv?site={site.pk}",
        6,
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
@time_machine.travel(NOW, tick=False)
def test_each_messages_page_costs_a_pinned_number_of_queries_whatever_the_shops_size(client, name):
    page, most = PINNED[name]
    counts = []
    for size in (2, 9):
        site, user, step, contact, stopped = shop_of(size)
        client.force_login(user)
        url = page(site, step, contact, stopped)

        def load(url=url):
            response = client.get(url)
            assert response.status_code == 200
            if response.streaming:
                b"".join(response.streaming_content)
            return response

        first = load()
        if name in ("list", "bought", "flow-and-step"):
            assert len(first.context["rows"]) == size
        if name == "never-planned":
            assert len(first.context["unplanned"]) == min(size, 3)  # the latest carts
        with CaptureQueriesContext(connection) as captured:
            load()
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
    assert counts[1] == most, counts  # pinned: a change says why in this table


@time_machine.travel(NOW, tick=False)
def test_the_holdout_and_a_stale_cart_are_explained(client, marketer, site):
    step = StepFactory(flow__site=site, flow__holdout_percent=100)
    marie = consenting(site, "+33612121212")
    abandoned(site, marie, changed=NOW - timedelta(hours=2))
    client.force_login(marketer)
    assert why(client, site, "0612121212")[0][1] == ["Groupe témoin : jamais relancé"]
    step.flow.holdout_percent = 0  # the control: no holdout
    step.flow.save()
    assert why(client, site, "0612121212")[0][1] == [
        "Dû : le prochain passage (chaque minute) le prévoit"
    ]
    old = consenting(site, "+33613131313")
    abandoned(site, old, changed=NOW - timedelta(days=3), external_id="4720")
    assert why(client, site, "0613131313")[0][1] == [
        "Trop tard : le panier dépasse la limite d'ancienneté"
    ]


@time_machine.travel(NOW, tick=False)
def test_a_cart_whose_shopper_left_no_number_is_explained(client, marketer, site, cart_flow):
    CartFactory(visitor__site=site, external_id="anon-1", last_change_at=NOW - timedelta(hours=2))
    client.force_login(marketer)
    assert why(client, site, "anon-1") == [
        (
            "panier anon-1, 59,90 €",
            ["Aucun contact pour ce panier : le client n'a donné ni numéro ni adresse email"],
        )
    ]
    assert why(client, site, "anon-2") == []  # the control: no such cart
