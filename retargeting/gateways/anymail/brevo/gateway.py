"""Brevo's transactional email API (``POST /v3/smtp/email``) through anymail's backend."""

from __future__ import annotations

from retargeting.gateways.anymail.gateway import AnymailGateway


class BrevoEmailGateway(AnymailGateway):
    name = "brevo"
    # Brevo lists events, not the messages with their text: a send whose answer was lost
    # stays unknown (never sent twice).
    lists_messages = False
