"""The ways a message reaches a customer: SMS and email.

``Channel`` names them everywhere (a consent row, a do-not-contact entry, a send, an opt-out
link, a day's figures). What each channel does (its address, whether quiet hours and the
frequency cap apply by default, how the opt-out is offered, how a message is built and sent)
lives in its own module here; the providers that carry a channel's messages are in
``retargeting.gateways``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
