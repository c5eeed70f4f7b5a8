"""The dashboard by channel: the overview's filter and per-step channel column, each message's
channel and subject, email reasons and answers in the marketer's words, and the exports."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.dashboard.explanations import reason_label, why_no_email
from campaigns.models import Send, SendStatus
from campaigns.rollups import roll_up
from campaigns.send_reasons import SendReason
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.sites.services import add_member
from tests.campaigns.test_figures_by_channel import DAY, NOW, mixed  # noqa: F401 - the data set
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
PERIOD = "start=2026-11-10&end=2026-11-10"


@pytest.fixture
def marketer(site):
    user = User.objects.create_user("marketer", password="x", is_staff=True)
    add_member(site=site, user=user)
    return user


@pytest.fixture
def rolled_up(site, mixed):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        roll_up(site=site, days=[DAY.date(), DAY.date() + timedelta(days=1)])
    return mixed


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _stages(page):
    return [int(count) for count in re.findall(r'data-stage="\w+" data-count="(\d+)"', page)]


def _cells(row):
    return re.findall(r"<td(?: data-label=\"[^\"]*\")?>([^<]*)</td>", row)


def _csv(response):
    """A French shop's export: split on ``;``, as French Excel does."""
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


@time_machine.travel(NOW, tick=False)
def test_the_overview_shows_one_channel_or_every_channel(client, marketer, site, rolled_up):
    client.force_login(marketer)
    every = _page(client, f"/dashboard/?site={site.pk}&{PERIOD}")
    assert '<option value="" selected>Tous les canaux</option>' in every
    assert 'data-stage="sent" data-count="5"><span>Envoyés' in every
    assert 'id="cost">0,14 €<' in every  # three SMS; the emails cost nothing
    email = _page(client, f"/dashboard/?site={site.pk}&{PERIOD}&channel=email")
    assert '<option value="email" selected>Email</option>' in email
    assert "le reste ne compte que les messages de ce canal" in email
    counts = _stages(email)
    assert counts == [7, 6, 3, 2, 2, 2]  # the whole site's carts, then the email's part
    assert 'id="cost">0,00 €<' in email
    sms = _page(client, f"/dashboard/?site={site.pk}&{PERIOD}&channel=sms")
    assert _stages(sms) == [
        7,
        6,
        3,
        3,
        1,
        0,
    ]
    # An unknown channel is every channel.
    fax = _page(client, f"/dashboard/?site={site.pk}&{PERIOD}&channel=fax")
    assert 'data-stage="sent" data-count="5"' in fax


@time_machine.travel(NOW, tick=False)
def test_the_step_table_has_a_row_per_channel(client, marketer, site, rolled_up):
    client.force_login(marketer)
    page = _page(client, f"/dashboard/?site={site.pk}&start=2026-11-10&end=2026-11-11")
    table = page[page.index('id="steps"') :]
    table = table[: table.index("</table>")]
    rows = [row.split("</tr>")[0] for row in table.split("<tr>")[2:]]
    cells = [_cells(row) for row in rows]
    assert [(row[1], row[2]) for row in cells] == [("SMS", "3"), ("Email", "2"), ("Email", "1")]
    assert "<th>Canal</th>" in page
    only_email = _page(
        client, f"/dashboard/?site={site.pk}&start=2026-11-10&end=2026-11-11&channel=email"
    )
    table = only_email[only_email.index('id="steps"') :]
    table = table[: table.index("</table>")]
    rows = [row.split("</tr>")[0] for row in table.split("<tr>")[2:]]
    assert [_cells(row)[2] for row in rows] == ["2", "1"]


@time_machine.travel(NOW, tick=False)
def test_the_message_list_shows_each_messages_channel_and_subject(
    client, marketer, site, rolled_up
):
    client.force_login(marketer)
    page = _page(client, f"/dashboard/sends/?site={site.pk}")
    cell = '<td data-label="Canal" class="channel">'
    assert f'{cell}Email<br><span class="muted">Votre panier vous attend</span></td>' in page
    assert f"{cell}SMS</td>" in page
    emails = _page(client, f"/dashboard/sends/?site={site.pk}&channel=email")
    assert emails.count(f"{cell}Email<br>") == 3 and f"{cell}SMS</td>" not in emails
    assert "••••@example.fr" in emails  # the email address it went to, masked
    send = Send.objects.filter(channel="email").first()
    detail = _page(client, f"/dashboard/sends/{send.pk}/?site={site.pk}")
    assert 'id="channel">Email<' in detail and 'id="subject">Votre panier vous attend<' in detail
    found = _page(client, f"/dashboard/sends/?site={site.pk}&q={send.contact.email.upper()}")
    assert found.count(f"/dashboard/sends/{send.pk}/") >= 1


@time_machine.travel(NOW, tick=False)
def test_the_exports_carry_the_channel(client, marketer, site, rolled_up):
    client.force_login(marketer)
    rows = _csv(client.get(f"/dashboard/exports/sends.csv?site={site.pk}"))
    assert sorted(row["channel"] for row in rows) == ["email"] * 3 + ["sms"] * 4
    email = next(row for row in rows if row["channel"] == "email")
    assert email["subject"] == "Votre panier vous attend"
    assert email["email"].endswith("@example.fr") and "••••" in email["email"]
    only_sms = _csv(client.get(f"/dashboard/exports/sends.csv?site={site.pk}&channel=sms"))
    assert {row["channel"] for row in only_sms} == {"sms"} and len(only_sms) == 4
    bought = _csv(client.get(f"/dashboard/exports/conversions.csv?site={site.pk}"))
    assert sorted(row["channel"] for row in bought) == ["email", "email"]


@time_machine.travel(NOW, tick=False)
def test_why_not_sent_words_email_reasons_for_the_marketer(client, marketer, site, rolled_up):
    with time_machine.travel(NOW, tick=False):
        send = Send.objects.filter(channel="email", status=SendStatus.SENT).get()
        Send.objects.filter(pk=send.pk).update(
            status=SendStatus.CANCELLED, reason=SendReason.OPTED_OUT
        )
    client.force_login(marketer)
    page = _page(client, f"/dashboard/sends/{send.pk}/?site={site.pk}")
    assert "Désabonné des emails ou consentement retiré" in page
    # The same reason on an SMS keeps the SMS's words.
    assert reason_label(SendReason.OPTED_OUT, channel="sms") == str(SendReason.OPTED_OUT.label)
    assert reason_label(SendReason.UNREACHABLE, channel="email") != reason_label(
        SendReason.UNREACHABLE, channel="sms"
    )
    # Every reason of the enum has words, the email ones included.
    assert all(reason_label(reason) != reason.value for reason in SendReason)


@time_machine.travel(NOW, tick=False)
def test_a_contact_page_says_why_no_email_can_go(client, marketer, site):
    def answer(contact):
        return why_no_email(contact, list(contact.consents.order_by("created_at", "pk")))

    phone_only = ContactFactory(site=site, email="")
    assert answer(phone_only) == "No email address"
    no_consent = ContactFactory(site=site, email="a@example.fr")
    assert answer(no_consent) == "No email consent"
    unsubscribed = ContactFactory(site=site, email="b@example.fr")
    for status, source in (
        (ConsentStatus.GRANTED, ConsentSource.ADMIN),
        (ConsentStatus.REVOKED, ConsentSource.UNSUBSCRIBE),
    ):
        record_consent(contact=unsubscribed, status=status, source=source, channel="email")
    unsubscribed.refresh_from_db()
    assert answer(unsubscribed) == "Unsubscribed from email"
    bounced = ContactFactory(site=site, email="c@example.fr", email_unreachable_at=timezone.now())
    assert answer(bounced) == "Email address unreachable (bounced)"
    fine = ContactFactory(site=site, email="d@example.fr")
    record_consent(
        contact=fine, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN, channel="email"
    )
    fine.refresh_from_db()
    assert answer(fine) is None
    client.force_login(marketer)
    page = _page(client, f"/dashboard/contacts/{unsubscribed.pk}/?site={site.pk}")
    assert 'id="email-reach">Désabonné des emails<' in page
    page = _page(client, f"/dashboard/contacts/{phone_only.pk}/?site={site.pk}")
    assert 'id="email-reach">Pas d\'adresse email<' in page
