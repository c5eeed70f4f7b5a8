"""The codes Brevo's email API answers with (words, as for its SMS), with those of every
provider through anymail, and what Relance does about each (``SMS_ERROR_ACTIONS`` adds to them
or overrides them, see ``retargeting.gateways.errors``)."""

from __future__ import annotations

from retargeting.gateways.anymail.errors import ERROR_ACTIONS as ANYMAIL_ACTIONS
from retargeting.gateways.base import Action

ERROR_ACTIONS: dict[str, Action] = {
    **ANYMAIL_ACTIONS,
    "not_enough_credits": Action.RETRY,  # the account ran out of credits: sent once topped up
    "account_under_validation": Action.RETRY,  # a new account Brevo has not validated yet
}
