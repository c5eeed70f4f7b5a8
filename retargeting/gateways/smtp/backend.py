"""Django's SMTP backend, telling a lost answer from a refused connection.

A connection that breaks before the message's data went out certainly delivered nothing (safe
to send again); one that breaks after it, while waiting for the server's answer, may have
delivered it (the answer was lost): the gateway must never send that message again blindly.
"""

from __future__ import annotations

import smtplib
from typing import Any

from django.core.mail.backends import smtp


class _Tracking:
    """Remembers whether the current message's data was handed to the server."""

    data_sent = False

    def sendmail(self, *args: Any, **kwargs: Any) -> Any:
        self.data_sent = False
        return super().sendmail(*args, **kwargs)  # type: ignore[misc]

    def send(self, s: Any) -> None:
        super().send(s)  # type: ignore[misc]
        # Commands go out as text; the message (its dot-terminated data) alone as bytes.
        if isinstance(s, bytes | bytearray):
            self.data_sent = True


class TrackingSMTP(_Tracking, smtplib.SMTP):
    pass


class TrackingSMTP_SSL(_Tracking, smtplib.SMTP_SSL):
    pass


class EmailBackend(smtp.EmailBackend):
    """``EMAIL_BACKEND`` of the SMTP provider: Django's, with :attr:`data_sent`."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return TrackingSMTP_SSL if self.use_ssl else TrackingSMTP

    @property
    def data_sent(self) -> bool:
        """Whether the last message's data reached the wire (its answer may be lost)."""
        return bool(getattr(self.connection, "data_sent", False))
