"""Generated webhooks: signed ones are acted on or refused with a 400, forged ones change nothing.

Posted through the real handlers (consent replies, delivery reports), so what a generated
parameter reaches is what a real one would.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from optin.models import Consent, Contact
from retargeting.gateways.models import InboundMessage
from tests.factories import ContactFactory, SiteFactory
from tests.support.generated import SETTINGS, hostile_text
from tests.support.twilio_fixtures import SENDER

pytestmark = pytest.mark.django_db
CUSTOMER = "+33612345678"
BASE = "https://relance.example"

value = st.one_of(
    hostile_text,
    st.sampled_from(
        [
            CUSTOMER,
            SENDER,
            "STOP",
            "arrêt",
            "OUI",
            "START",
            "AIDE",
            "delivered",
            "failed",
            "undelivered",
            "30006",
            "SM" + "0" * 32,
            "",
        ]
    ),
)
params = st.dictionaries(
    st.sampled_from(
        [
            "MessageSid",
            "SmsSid",
            "From",
            "To",
            "Body",
            "OptOutType",
            "MessageStatus",
            "SmsStatus",
            "ErrorCode",
            "AccountSid",
            "NumMedia",
            "Other",
        ]
    ),
    # A field may be repeated (Twilio signs every value): one value, or a list of them.
    st.one_of(value, st.lists(value, min_size=1, max_size=3)),
    max_size=8,
)


@pytest.fixture
def customer(twilio):
    shop = SiteFactory(name="Boutique")
    return ContactFactory(site=shop, phone=CUSTOMER)


def state():
    return (
        InboundMessage.objects.count(),
        Consent.objects.count(),
        list(Contact.objects.values_list("consent_status", flat=True)),
    )


@SETTINGS
@given(path=st.sampled_from(["/webhooks/twilio/inbound", "/webhooks/twilio/status"]), data=params)
@example(
    path="/webhooks/twilio/inbound",
    data={"MessageSid": "SM1", "From": CUSTOMER, "To": SENDER, "Body": "ST\x00OP"},
)
@example(
    path="/webhooks/twilio/status",
    data={"MessageSid": "SM\x00", "MessageStatus": "delivered", "ErrorCode": "\x00"},
)
@example(
    path="/webhooks/twilio/inbound",
    data={"MessageSid": "SM1", "From": CUSTOMER, "To": SENDER, "Body": ["STOP", "OUI"]},
)
@example(
    path="/webhooks/twilio/status",
    data={"MessageSid": ["SM1", "SM2"], "MessageStatus": "delivered", "Other": ["b", "a", "b"]},
)
def test_signed_webhooks_never_cause_a_server_error(client, twilio, customer, path, data):
    # Form fields cannot carry NUL through an HTTP form post in a way Twilio would send;
    # keep them anyway: a signed request is still our input, and must not crash us.
    signature = twilio.sign(BASE + path, data)
    response = client.post(path, data=data, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code in (200, 204, 400), response.content


@SETTINGS
@given(
    path=st.sampled_from(["/webhooks/twilio/inbound", "/webhooks/twilio/status"]),
    data=params,
    signature=st.one_of(st.none(), st.text(max_size=40)),
)
def test_forged_webhooks_are_refused_and_change_nothing(
    client, twilio, customer, path, data, signature
):
    before = state()
    headers = {} if signature is None else {"HTTP_X_TWILIO_SIGNATURE": signature}
    response = client.post(path, data=data, **headers)
    assert response.status_code == 403
    assert state() == before
