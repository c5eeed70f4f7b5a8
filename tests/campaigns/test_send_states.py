"""The groups of statuses the engine and the dashboard reason with, defined once."""

from __future__ import annotations

from campaigns.models import SendStatus
from campaigns.send_states import FINAL, NOT_SENT, REACHED, TAKEN, WAITING


def test_waiting_sent_and_not_sent_share_every_status_out_once():
    groups = [*WAITING, *TAKEN, *NOT_SENT]
    assert sorted(groups) == sorted(SendStatus.values)


def test_what_was_not_sent_is_final_and_what_waits_is_not():
    assert set(NOT_SENT) <= FINAL
    assert not set(WAITING) & FINAL
    assert set(REACHED) <= set(TAKEN)
