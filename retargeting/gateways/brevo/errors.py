"""Brevo's error codes (words: its API's error codes, and the delivery statuses that end a
message) and what Relance does about each (docs/sms-providers.md; ``SMS_ERROR_ACTIONS`` adds
to them or overrides them, see ``retargeting.gateways.errors``)."""

from __future__ import annotations

from retargeting.gateways.base import Action

ERROR_ACTIONS: dict[str, Action] = {
    "not_enough_credits": Action.RETRY,  # the account ran out of SMS credits: sent once topped up
    "account_under_validation": Action.RETRY,  # a new account Brevo has not validated yet
    "blocked": Action.REVOKE_CONSENT,  # the number is on Brevo's blocklist (it sent STOP)
    "hard_bounce": Action.UNREACHABLE,  # the number cannot receive SMS
}
