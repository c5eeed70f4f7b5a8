"""Twilio's error codes (numbers) and what Relance does about each (``SMS_ERROR_ACTIONS``
adds to them or overrides them; see ``retargeting.gateways.errors``)."""

from __future__ import annotations

from retargeting.gateways.base import Action

ERROR_ACTIONS: dict[str, Action] = {
    "21610": Action.REVOKE_CONSENT,  # the recipient replied STOP at the provider
    "21211": Action.UNREACHABLE,  # invalid "To" number
    "21614": Action.UNREACHABLE,  # "To" is not a mobile number
    "30005": Action.UNREACHABLE,  # unknown destination handset
    "30006": Action.UNREACHABLE,  # landline or unreachable carrier
    "20429": Action.RETRY,  # too many requests
    "21611": Action.RETRY,  # the sender's queue is full
    "30007": Action.FLAG,  # filtered by the carrier
}
