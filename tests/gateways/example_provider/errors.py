"""Example's error codes and what Relance does about each."""

from __future__ import annotations

from retargeting.gateways.base import Action

ERROR_ACTIONS: dict[str, Action] = {
    "opted_out": Action.REVOKE_CONSENT,  # the number unsubscribed at the vendor
    "not_mobile": Action.UNREACHABLE,
}
