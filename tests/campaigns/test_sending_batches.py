"""Sending in batches: each send ends as it would alone, over one kept-alive connection, and
a crash mid-batch sends nothing twice. Through the real SDK and the emulator."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from campaigns import sending
from campaigns.models import Send, SendEvent, SendStatus
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.gateways import get_gateway
from retargeting.tracking.models import Cart
from tests.factories import (
    CartFactory,
    ContactFactory,
    SendFactory,
    SiteFactory,
    StepFactory,
    VisitorLinkFactory,
)

pytestmark = pytest.mark.django_db
# A Tuesday, 10:00 in Paris (04:00 in New York).
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TEMPLATE = "{{ shop }} : {{ first_name }}, votre panier vous attend : {{ link }} {{ stop }}"


def consenting(site, phone=None):
    contact = ContactFactory(site=site, **({"phone": phone} if phone else {}))
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    return contact


def due(step, contact, *, left=timedelta(hours=1), **cart):
    """A send due now for ``contact``'s cart left ``left`` ago, planned 30 minutes after."""
    link = VisitorLinkFactory(visitor__site=step.flow.site, contact=contact)
    at = NOW - left
    return SendFactory(
        cart=CartFactory(visitor=link.visitor, created_at=at, last_change_at=at, **cart),
        step=step,
        contact=contact,
        planned_at=at + timedelta(minutes=30),
        due_at=NOW - timedelta(minutes=1),
    )


def shop():
    """One send of each fate, as the worker finds them at 10:00 in Paris (French hours)."""
    site = SiteFactory()
    step = StepFactory(flow__site=site, delay_minutes=30, template=TEMPLATE)
    sends = {"goes": due(step, consenting(site))}
    sends["purchased"] = due(
        step,
        consenting(site),
        status=Cart.Status.CONVERTED,
        converted_at=NOW - timedelta(minutes=5),
    )
    revoked = consenting(site)
    sends["revoked"] = due(step, revoked)
    record_consent(contact=revoked, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    sends["quiet_hours"] = due(step, consenting(site, phone="+12125550123"))  # 04:00 in NY
    capped = consenting(site)
    SendFactory(
        site=site,
        step=step,
        contact=capped,
        cart__visitor__site=site,
        status=SendStatus.DELIVERED,
        sent_at=NOW - timedelta(hours=2),
    )
    sends["capped"] = due(step, capped)
    sends["stale"] = due(step, consenting(site), left=timedelta(hours=49))
    twice = consenting(site)
    sends["first_of_two"] = due(step, twice)
    sends["second_of_two"] = due(step, twice)
    return sends


def fates(sends):
    ended = {send.pk: send for send in Send.objects.filter(pk__in=[s.pk for s in sends.values()])}
    return {name: (ended[s.pk].status, ended[s.pk].reason) for name, s in sends.items()}


EXPECTED = {
    "goes": (SendStatus.ACCEPTED, ""),
    "purchased": (SendStatus.CANCELLED, "converted"),
    "revoked": (SendStatus.CANCELLED, "opted_out"),
    "quiet_hours": (SendStatus.PLANNED, "quiet_hours"),
    "capped": (SendStatus.PLANNED, "capped"),
    "stale": (SendStatus.DROPPED, "stale"),
    "first_of_two": (SendStatus.ACCEPTED, ""),
    "second_of_two": (SendStatus.PLANNED, "capped"),
}


@time_machine.travel(NOW, tick=False)
def test_a_batch_ends_each_send_as_sending_them_one_by_one_does(twilio):
    one_by_one = shop()
    for send in one_by_one.values():
        sending.deliver(send_id=send.pk)
    batched = shop()
    outcomes = sending.deliver_batch(send_ids=[send.pk for send in batched.values()])
    assert fates(batched) == fates(one_by_one) == EXPECTED
    assert Counter(outcomes.values()) == Counter(
        {"accepted": 2, "capped": 2, "converted": 1, "opted_out": 1, "quiet_hours": 1, "stale": 1}
    )
    # Two SMS per shop, each to its own number: the second send of one contact waited.
    per_number = Counter(message.to for message in twilio.messages.values())
    assert len(twilio.messages) == 4 and set(per_number.values()) == {1}
    for name in ("goes", "first_of_two"):
        send = Send.objects.get(pk=batched[name].pk)
        assert send.provider_id in twilio.messages
        assert twilio.messages[send.provider_id].body == send.body
        assert list(send.history.values_list("status", flat=True)) == ["sending", "accepted"]
        assert send.contact.last_messaged_at == send.sent_at
    # Deferred sends are due again when the cap frees or the morning comes in New York.
    capped = Send.objects.get(pk=batched["second_of_two"].pk)
    assert capped.due_at >= NOW + timedelta(hours=24) and capped.claimed_at is None
    morning = Send.objects.get(pk=batched["quiet_hours"].pk)
    assert datetime(2026, 11, 24, 13, 0, tzinfo=UTC) <= morning.due_at  # 08:00 in New York


@time_machine.travel(NOW, tick=False)
def test_a_batch_handed_on_twice_sends_each_sms_once(twilio):
    site = SiteFactory(quiet_hours="none")
    step = StepFactory(flow__site=site, template=TEMPLATE)
    ids = [due(step, consenting(site)).pk for _ in range(5)]
    assert set(sending.deliver_batch(send_ids=ids).values()) == {"accepted"}
    assert sending.deliver_batch(send_ids=ids) == {}
    assert len(twilio.messages) == 5


@time_machine.travel(NOW, tick=False)
def test_a_worker_reuses_one_connection_to_the_provider_for_every_sms(twilio):
    site = SiteFactory(quiet_hours="none")
    step = StepFactory(flow__site=site, template=TEMPLATE)
    first = [due(step, consenting(site)).pk for _ in range(8)]
    second = [due(step, consenting(site)).pk for _ in range(4)]
    assert set(sending.deliver_batch(send_ids=first).values()) == {"accepted"}
    assert set(sending.deliver_batch(send_ids=second).values()) == {"accepted"}
    # The send of a batch of one, after them, goes over the same connection too.
    assert sending.deliver(send_id=due(step, consenting(site)).pk) == "accepted"
    assert len(twilio.messages) == 13
    assert twilio.connections == 1


class KilledAfter:
    """A gateway that hands ``calls`` messages to the real one, then dies as a killed worker
    does: before the provider answers (``taken=False``) or once it took the message."""

    def __init__(self, calls, *, taken):
        self.real, self.calls, self.taken = get_gateway(), calls, taken

    def __getattr__(self, name):
        return getattr(self.real, name)

    def send(self, sms):
        if self.calls == 0:
            if self.taken:
                self.real.send(sms)
            raise SystemExit("killed")
        self.calls -= 1
        return self.real.send(sms)


@pytest.mark.parametrize("taken", [False, True], ids=["before-the-call", "after-the-call"])
def test_a_crash_mid_batch_sends_the_rest_once_and_looks_up_the_one_in_flight(twilio, taken):
    site = SiteFactory(quiet_hours="none")
    step = StepFactory(flow__site=site, template=TEMPLATE)
    with time_machine.travel(NOW, tick=False):
        ids = [due(step, consenting(site)).pk for _ in range(6)]
        with pytest.raises(SystemExit):
            sending.deliver_batch(send_ids=ids, gateway=KilledAfter(2, taken=taken))
        # The third, whose call was under way, was marked as handed to the provider: it waits
        # in `sending` for the reconciler. The three never handed over went back at once.
        left = Send.objects.filter(pk__in=ids, status=SendStatus.SENDING)
        assert list(left.values_list("pk", flat=True)) == [ids[2]] and left.get().handed_at
        back = Send.objects.filter(pk__in=ids, status=SendStatus.PLANNED)
        assert list(back.values_list("reason", flat=True)) == ["interrupted"] * 3
        # Handed on again (a redelivered task, the next pass): the three are sent, once; the
        # claimed one is never sent a second time.
        assert sending.deliver_batch(send_ids=ids) == dict.fromkeys(ids[3:], "accepted")
    with time_machine.travel(NOW + timedelta(minutes=15), tick=False):
        counts = sending.reconcile_stuck()
    assert counts == {"resumed": 0, "found": 1 if taken else 0, "unknown": 0 if taken else 1}
    statuses = Counter(Send.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == ({"accepted": 6} if taken else {"accepted": 5, "unknown": 1})
    per_number = Counter(message.to for message in twilio.messages.values())
    assert len(twilio.messages) == (6 if taken else 5) and set(per_number.values()) == {1}
    accepted = Send.objects.filter(pk__in=ids, status=SendStatus.ACCEPTED)
    assert set(accepted.values_list("provider_id", flat=True)) == set(twilio.messages)


class Witness:
    """The real gateway, which reads each send's mark through a connection of its own (as
    another process would) at the moment the provider is called for it."""

    def __init__(self):
        self.real, self.seen = get_gateway(), {}

    def __getattr__(self, name):
        return getattr(self.real, name)

    def send(self, sms):
        send_id = int(sms.tag.removeprefix("relance-send-"))
        other = connection.copy()
        try:
            with other.cursor() as cursor:
                table = other.ops.quote_name(Send._meta.db_table)
                cursor.execute(f"SELECT handed_at FROM {table} WHERE id = %s", [send_id])  # noqa: S608
                self.seen[send_id] = cursor.fetchone()[0]
        finally:
            other.close()
        return self.real.send(sms)


@pytest.mark.django_db(transaction=True)
def test_each_send_is_marked_and_committed_before_the_provider_is_called_for_it(twilio):
    site = SiteFactory(quiet_hours="none")
    step = StepFactory(flow__site=site, template=TEMPLATE)
    with time_machine.travel(NOW, tick=False):
        ids = [due(step, consenting(site)).pk for _ in range(4)]
        assert not Send.objects.filter(pk__in=ids, handed_at__isnull=False).exists()  # control
        witness = Witness()
        assert set(sending.deliver_batch(send_ids=ids, gateway=witness).values()) == {"accepted"}
    # Another connection saw each mark at its call: a crash there leaves a marked send.
    assert sorted(witness.seen) == ids and all(witness.seen.values()), witness.seen
    assert not Send.objects.filter(pk__in=ids, handed_at__isnull=True).exists()


class ReconciledDuring:
    """A first call that outlasts the reconciler's patience: it runs while the batch waits."""

    def __init__(self):
        self.real, self.counts = get_gateway(), None

    def __getattr__(self, name):
        return getattr(self.real, name)

    def send(self, sms):
        if self.counts is None:
            self.counts = sending.reconcile_stuck(stuck_after=timedelta(0))
        return self.real.send(sms)


def test_a_send_the_reconciler_took_back_is_not_sent_by_the_slow_batch_too(twilio):
    site = SiteFactory(quiet_hours="none")
    step = StepFactory(flow__site=site, template=TEMPLATE)
    with time_machine.travel(NOW, tick=False):
        ids = [due(step, consenting(site)).pk for _ in range(4)]
        slow = ReconciledDuring()
        outcomes = sending.deliver_batch(send_ids=ids, gateway=slow)
        # The one under way was handed over, so it is looked up (not there yet: unknown, and
        # then accepted when the provider answers); the three others were taken back.
        assert slow.counts == {"resumed": 3, "found": 0, "unknown": 1}
        assert outcomes == {ids[0]: "accepted", **dict.fromkeys(ids[1:], "taken_back")}
        # The next pass sends them, once.
        assert set(sending.deliver_batch(send_ids=ids).values()) == {"accepted"}
    per_number = Counter(message.to for message in twilio.messages.values())
    assert len(per_number) == 4 and set(per_number.values()) == {1}
    assert set(Send.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"accepted"}


class TakenAndClaimedDuring:
    """A first call that outlasts the reconciler's patience, during which another worker
    claims the sends taken back; then the call fails (a bug, a lost connection)."""

    def __init__(self, others):
        self.others = others

    def __getattr__(self, name):
        return getattr(get_gateway(), name)

    def send(self, sms):
        sending.reconcile_stuck(stuck_after=timedelta(0))
        assert sending._claim(self.others, now=NOW + timedelta(seconds=1)) == self.others
        raise RuntimeError("the provider's client failed")


def test_a_slow_batch_leaves_alone_the_sends_another_worker_claimed_meanwhile():
    site = SiteFactory(quiet_hours="none")
    step = StepFactory(flow__site=site, template=TEMPLATE)
    with time_machine.travel(NOW, tick=False):
        ids = [due(step, consenting(site)).pk for _ in range(4)]
        with pytest.raises(RuntimeError):
            sending.deliver_batch(send_ids=ids, gateway=TakenAndClaimedDuring(ids[1:]))
    # The slow batch would have put them back to planned (never handed over, as it saw them):
    # the other worker, which holds them now, would send them and the next pass again.
    others = Send.objects.filter(pk__in=ids[1:])
    assert set(others.values_list("status", "claimed_at")) == {
        ("sending", NOW + timedelta(seconds=1))
    }
    # The reconciler's taking back is in their history; nothing of the slow batch's after it.
    worker = SendEvent.objects.filter(send_id__in=ids[1:], source="worker")
    assert not worker.filter(reason="interrupted").exists()
    # Control: the one it handed over is left to the reconciler, marked.
    assert Send.objects.get(pk=ids[0]).handed_at is not None
