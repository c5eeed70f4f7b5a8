"""The email outbox (development's default): emails kept on the machine, shown at /dev/mail/."""
