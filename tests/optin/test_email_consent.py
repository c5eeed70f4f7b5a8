"""Email consent beside SMS consent: identify with an email address at the snippet and the
server API, the double opt-in by email (its confirmation email, its link), erasure by address,
and the rule that SMS consent never implies email consent, nor the reverse."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from optin.consent import record_consent
from optin.email_confirmation import (
    MAX_PER_ADDRESS_PER_DAY,
    send_email_confirmation,
    send_pending_email_confirmations,
)
from optin.erasure import erase_contact
from optin.models import Consent, ConsentSource, ConsentStatus, Contact, DoNotContact, VisitorLink
from retargeting.gateways.base import InboundSms
from retargeting.gateways.inbound import receive_inbound
from retargeting.sites.services import create_site

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "https://boutique.example"
VID = "v" * 32
OTHER_VID = "o" * 32
ADDRESS = "marie@example.fr"
EMAIL_CONSENT = {"granted": True, "text": "J'accepte les emails de la Boutique", "source": "form"}
SMS_CONSENT = {"granted": True, "text": "J'accepte les SMS de la Boutique", "source": "form"}


@pytest.fixture
def shop():
    created = create_site(name="Boutique", domains=["boutique.example"], country="FR")
    created.site.secret = created.secret_key
    return created.site


def collect(client, site, event, *, vid=VID, ip="203.0.113.7"):
    body = json.dumps({"site": site.public_key, "vid": vid, "events": [event]})
    return client.post(
        "/t/e", data=body, content_type="text/plain", HTTP_ORIGIN=ORIGIN, REMOTE_ADDR=ip
    )


def api_identify(client, site, body):
    return client.post(
        "/api/v1/identify",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {site.secret}",
    )


def email_identify(address=ADDRESS, **more):
    return {"type": "identify", "email": address, "email_consent": EMAIL_CONSENT, **more}


def emails_to(address):
    return [message for message in mail.outbox if message.to == [address]]


def confirm_path(message) -> str:
    (url,) = re.findall(r"https?://\S+/o/e/\S+", message.body)
    return "/o/e/" + url.split("/o/e/", 1)[1]


def test_a_snippet_identify_of_a_new_address_starts_the_double_opt_in_by_email(client, shop):
    typed = "  Marie@Example.FR "
    assert collect(client, shop, email_identify(typed, first_name="Marie")).status_code == 204
    contact = Contact.objects.get(site=shop)
    assert (contact.email, contact.phone) == (ADDRESS, "")
    assert (contact.email_consent_status, contact.consent_status) == ("pending", "none")
    assert contact.first_name == ""  # a typed name waits for the owner's confirmation
    proof = contact.consents.get()
    assert (proof.channel, proof.source, proof.text) == ("email", "snippet", EMAIL_CONSENT["text"])
    assert proof.ip is not None
    (message,) = emails_to(ADDRESS)
    assert "Boutique" in message.subject and "Boutique" in message.body
    assert message.from_email.startswith("Boutique <")
    assert "confirmez" in message.subject  # the site's language (French)
    (html, _), *_ = message.alternatives
    assert html.count("/o/e/") == 1, "one confirm button"
    contact.refresh_from_db()
    assert contact.email_confirmation_handed_at is not None  # the write-ahead mark
    assert VisitorLink.objects.get(visitor__vid=VID).contact == contact


def test_the_confirmation_link_asks_and_only_its_button_confirms_the_email_consent(client, shop):
    collect(client, shop, email_identify(first_name="Marie"))
    path = confirm_path(emails_to(ADDRESS)[0])
    page = client.get(path)  # a mail scanner opening the link
    assert page.status_code == 200 and b"confirm" in page.content.lower()
    contact = Contact.objects.get(site=shop)
    assert contact.email_consent_status == ConsentStatus.PENDING
    done = client.post(path, HTTP_USER_AGENT="Thunderbird")
    assert done.status_code == 200
    contact.refresh_from_db()
    assert contact.email_consent_status == ConsentStatus.CONFIRMED
    assert contact.consent_status == "none"  # never SMS consent
    assert contact.first_name == "Marie"
    confirmed = contact.consents.get(status="confirmed")
    assert (confirmed.channel, confirmed.source, confirmed.user_agent) == (
        "email",
        "link",
        "Thunderbird",
    )
    assert ADDRESS in confirmed.text  # what the owner confirmed, as shown


def test_a_forged_or_outdated_confirmation_link_confirms_nothing(client, shop):
    collect(client, shop, email_identify())
    path = confirm_path(emails_to(ADDRESS)[0])
    assert client.post(path[:-3] + "xyz").status_code == 404
    # A second confirmation email (the first one's claim was never handed over) voids the first.
    Contact.objects.update(
        email_confirmation_sent_at=timezone.now() - timedelta(hours=1),
        email_confirmation_handed_at=None,
    )
    assert send_email_confirmation(contact_id=Contact.objects.get().pk)
    assert client.post(path).status_code == 404
    assert Contact.objects.get().email_consent_status == ConsentStatus.PENDING
    # Control: the latest link confirms.
    client.post(confirm_path(emails_to(ADDRESS)[-1]))
    assert Contact.objects.get().email_consent_status == ConsentStatus.CONFIRMED


def test_the_confirmation_link_expires(client, shop):
    collect(client, shop, email_identify())
    path = confirm_path(emails_to(ADDRESS)[0])
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert client.post(path).status_code == 404
    assert Contact.objects.get().email_consent_status == ConsentStatus.PENDING


def test_a_confirmation_claimed_but_never_handed_over_is_sent_again_once(shop):
    contact = Contact.objects.create(site=shop, email=ADDRESS, region="FR")
    record_consent(
        contact=contact,
        status=ConsentStatus.PENDING,
        source=ConsentSource.SNIPPET,
        channel="email",
    )
    # A worker claimed it and died before handing it to the provider.
    Contact.objects.update(email_confirmation_sent_at=timezone.now())
    assert send_pending_email_confirmations() == 0  # not yet: it may still be on its way
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert send_pending_email_confirmations() == 1
        assert send_pending_email_confirmations() == 0  # handed over: never twice
    assert len(emails_to(ADDRESS)) == 1


def test_an_address_gets_at_most_its_daily_confirmation_emails_whatever_the_shops(shop):
    other = create_site(name="Atelier", domains=["atelier.example"], country="FR").site
    for site in (shop, other, shop, other):
        contact, _ = Contact.objects.get_or_create(
            site=site, email=ADDRESS, defaults={"region": "FR"}
        )
        Contact.objects.filter(pk=contact.pk).update(
            email_consent_status="pending", email_confirmation_sent_at=None
        )
        send_email_confirmation(contact_id=contact.pk)
    assert len(emails_to(ADDRESS)) == MAX_PER_ADDRESS_PER_DAY


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("marie", "events[0].email: expected an email address"),
        ("marie@", "events[0].email: expected an email address"),
        ("m" * 250 + "@example.fr", "events[0].email: expected at most 254 characters"),
        (42, "events[0].email: expected a string"),
    ],
)
def test_a_bad_address_is_a_clear_400_and_nothing_is_stored(client, shop, email, message):
    answer = collect(client, shop, email_identify(email))
    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert not Contact.objects.exists() and not mail.outbox


def test_an_identify_without_phone_email_or_token_is_refused(client, shop):
    answer = collect(client, shop, {"type": "identify", "first_name": "Marie"})
    assert answer.status_code == 400
    assert "a phone number or an email address" in answer.json()["error"]


def test_sms_consent_never_implies_email_consent_nor_the_reverse(client, shop):
    both = {
        "type": "identify",
        "phone": "06 12 34 56 78",
        "email": ADDRESS,
        "consent": SMS_CONSENT,
    }
    assert collect(client, shop, both).status_code == 204
    contact = Contact.objects.get(site=shop)
    assert (contact.phone, contact.email) == ("+33612345678", ADDRESS)
    assert (contact.consent_status, contact.email_consent_status) == ("pending", "none")
    assert not emails_to(ADDRESS)
    only_email = {"type": "identify", "email": "paul@example.fr", "email_consent": EMAIL_CONSENT}
    assert collect(client, shop, only_email, vid=OTHER_VID).status_code == 204
    paul = Contact.objects.get(email="paul@example.fr")
    assert (paul.consent_status, paul.email_consent_status) == ("none", "pending")


def test_start_and_oui_touch_only_the_sms_consent(client, shop):
    contact = Contact.objects.create(site=shop, phone="+33612345678", email=ADDRESS, region="FR")
    for channel in ("sms", "email"):
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            channel=channel,
        )
    record_consent(
        contact=contact,
        status=ConsentStatus.REVOKED,
        source=ConsentSource.UNSUBSCRIBE,
        channel="email",
    )
    for word in ("STOP", "START", "OUI"):
        receive_inbound(
            provider="outbox",
            sms=InboundSms(provider_id=f"SM{word}", sender=contact.phone, recipient="", body=word),
        )
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.GRANTED  # START gave the SMS consent back
    assert contact.email_consent_status == ConsentStatus.REVOKED  # never the email one
    assert not contact.consents.filter(channel="email", source="keyword").exists()


def test_start_never_gives_an_sms_consent_that_only_the_email_had(client, shop):
    # A STOP made the number a revoked contact; the shop's server later gave its address email
    # consent. The number itself never consented: START restores nothing.
    contact = Contact.objects.create(site=shop, phone="+33612345678", email=ADDRESS, region="FR")
    record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        channel="email",
    )
    receive_inbound(
        provider="outbox",
        sms=InboundSms(provider_id="SMSTART", sender=contact.phone, recipient="", body="START"),
    )
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED
    assert contact.email_consent_status == ConsentStatus.GRANTED


def test_the_server_api_identifies_an_address_alone_and_grants_its_consent(client, shop):
    answer = api_identify(
        client, shop, {"email": "Marie@Example.fr", "vid": VID, "email_consent": EMAIL_CONSENT}
    )
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "phone": None, "vid": VID, "email": ADDRESS}
    contact = Contact.objects.get(site=shop)
    assert (contact.email_consent_status, contact.consent_status) == ("granted", "none")
    assert contact.consents.get().source == ConsentSource.SERVER_API
    assert VisitorLink.objects.get(visitor__vid=VID).method == "server"
    assert not mail.outbox  # the shop's server vouches: no double opt-in


def test_the_server_api_puts_the_address_beside_the_number(client, shop):
    body = {
        "phone": "+33612345678",
        "email": ADDRESS,
        "consent": SMS_CONSENT,
        "email_consent": EMAIL_CONSENT,
    }
    assert api_identify(client, shop, body).status_code == 200
    contact = Contact.objects.get(site=shop)
    assert (contact.phone, contact.email) == ("+33612345678", ADDRESS)
    assert (contact.consent_status, contact.email_consent_status) == ("granted", "granted")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"first_name": "Marie"}, "phone: expected a phone or an email"),
        ({"email": "not an address"}, "email: expected an email address"),
        ({"email": ADDRESS, "email_consent": {"granted": "yes"}}, "email_consent.granted"),
    ],
)
def test_the_server_api_refuses_a_bad_identify_with_a_clear_error(client, shop, body, message):
    answer = api_identify(client, shop, body)
    assert answer.status_code == 400 and message in answer.json()["error"]
    assert not Contact.objects.exists()


def test_an_erased_address_that_unsubscribed_stays_blocked_on_email_only(client, shop):
    body = {
        "phone": "+33612345678",
        "email": ADDRESS,
        "consent": SMS_CONSENT,
        "email_consent": EMAIL_CONSENT,
    }
    api_identify(client, shop, body)
    contact = Contact.objects.get()
    from optin.consent import revoke

    revoke(contact=contact, channel="email", source=ConsentSource.UNSUBSCRIBE)
    out = StringIO()
    call_command("erase_contact", "--site", str(shop.pk), "--email", "MARIE@example.fr", stdout=out)
    assert out.getvalue().startswith("erased: contact found")
    assert "kept as do-not-contact" in out.getvalue()
    assert not Contact.objects.exists() and not Consent.objects.exists()
    assert list(DoNotContact.objects.values_list("channel", flat=True)) == ["email"]
    assert ADDRESS not in DoNotContact.objects.get().phone_hash
    # The shop's server brings both back: the number may consent again, the address may not.
    assert api_identify(client, shop, body).status_code == 200
    contact = Contact.objects.get()
    assert (contact.consent_status, contact.email_consent_status) == ("granted", "none")


def test_without_an_unsubscribe_an_erased_address_can_consent_again(client, shop):
    api_identify(client, shop, {"email": ADDRESS, "email_consent": EMAIL_CONSENT})
    report = erase_contact(site=shop, raw_email=ADDRESS)
    assert report.contact_found and not report.kept_do_not_contact
    api_identify(client, shop, {"email": ADDRESS, "email_consent": EMAIL_CONSENT})
    assert Contact.objects.get().email_consent_status == ConsentStatus.GRANTED


def test_erasure_by_address_scrubs_it_from_other_browsers_events(client, shop):
    collect(client, shop, email_identify(first_name="Marie"), vid=OTHER_VID)
    api_identify(client, shop, {"email": ADDRESS, "email_consent": EMAIL_CONSENT})
    erase_contact(site=shop, raw_email=ADDRESS)
    from retargeting.tracking.models import Event

    payloads = json.dumps(list(Event.objects.values_list("payload", flat=True)))
    assert ADDRESS not in payloads and "Marie" not in payloads


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "nope"], "email address"),
        (["--phone", "+33612345678", "--email", ADDRESS], "not allowed with argument"),
    ],
)
def test_the_command_refuses_a_bad_address_or_both(shop, args, message):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("erase_contact", "--site", str(shop.pk), *args, stderr=StringIO())


def test_the_admin_records_an_opt_out_through_the_one_revoke_per_channel(admin_client, shop):
    contact = Contact.objects.create(site=shop, phone="+33612345678", email=ADDRESS, region="FR")
    for channel in ("sms", "email"):
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            channel=channel,
        )
    url = "/admin/optin/contact/"
    done = admin_client.post(url, {"action": "revoke_email", "_selected_action": [contact.pk]})
    assert done.status_code == 302
    contact.refresh_from_db()
    assert (contact.email_consent_status, contact.consent_status) == ("revoked", "granted")
    proof = contact.consents.get(status="revoked")
    assert (proof.channel, proof.source) == ("email", ConsentSource.ADMIN)
    assert "recorded in the admin by admin" in proof.text
    # Twice: nothing more written.
    admin_client.post(url, {"action": "revoke_email", "_selected_action": [contact.pk]})
    assert contact.consents.filter(status="revoked").count() == 1
    # The change form shows the address and its state, and cannot change them.
    page = admin_client.get(f"{url}{contact.pk}/change/").content.decode()
    assert ADDRESS in page and 'name="email"' not in page


def test_retention_counts_an_email_as_a_sign_of_life_and_erases_an_address_alone(shop):
    from optin.retention import erase_inactive_prospects

    long_ago = timezone.now() - timedelta(days=4 * 365)
    emailed = Contact.objects.create(site=shop, email=ADDRESS, region="FR")
    silent = Contact.objects.create(site=shop, email="paul@example.fr", region="FR")
    Contact.objects.filter(pk__in=[emailed.pk, silent.pk]).update(updated_at=long_ago)
    Contact.objects.filter(pk=emailed.pk).update(last_emailed_at=timezone.now())
    assert erase_inactive_prospects() == 1
    assert list(Contact.objects.values_list("email", flat=True)) == [ADDRESS]


def test_the_confirmation_email_speaks_the_shops_language_and_uses_its_sender(client, shop):
    shop.language = "en"
    shop.email_from = "Boutique <hello@boutique.example>"
    shop.save()
    collect(client, shop, email_identify())
    (message,) = emails_to(ADDRESS)
    assert message.subject == "Boutique: confirm your subscription"
    assert message.from_email == "Boutique <hello@boutique.example>"
    assert "I confirm" in message.alternatives[0][0]
    page = client.get(confirm_path(message)).content.decode()
    assert "Get a reminder of your cart and offers from Boutique by email" in page
    assert ADDRESS not in page  # masked


def test_the_confirmation_email_goes_through_a_real_smtp_server_and_a_failure_is_retried(
    client, shop, smtp
):
    smtp.fail_next(1)  # a transient SMTP error: certainly not sent, tried again by the pass
    assert collect(client, shop, email_identify()).status_code == 204
    assert smtp.messages == []
    contact = Contact.objects.get()
    assert contact.email_confirmation_sent_at is None  # owed, not lost
    assert send_pending_email_confirmations() == 1
    (received,) = smtp.messages
    message = received.message
    assert message["To"] == ADDRESS and "Boutique" in message["Subject"]
    assert message["From"].startswith("Boutique <")
    html = message.get_body(preferencelist=("html",)).get_content()
    assert html.count("/o/e/") == 1
    assert send_pending_email_confirmations() == 0  # never twice


def test_an_erased_address_that_unsubscribed_starts_no_double_opt_in_from_a_page(client, shop):
    api_identify(client, shop, {"email": ADDRESS, "email_consent": EMAIL_CONSENT})
    from optin.consent import revoke

    revoke(contact=Contact.objects.get(), channel="email", source=ConsentSource.UNSUBSCRIBE)
    erase_contact(site=shop, raw_email=ADDRESS)
    assert collect(client, shop, email_identify()).status_code == 204  # the same answer
    assert Contact.objects.get().email_consent_status == "none"
    assert not emails_to(ADDRESS)
    # Control: another address starts its double opt-in.
    assert (
        collect(client, shop, email_identify("paul@example.fr"), vid=OTHER_VID).status_code == 204
    )
    assert len(emails_to("paul@example.fr")) == 1
