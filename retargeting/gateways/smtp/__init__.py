"""SMTP: any mail server, named by ``EMAIL_URL`` (``smtp://user:password@host:587``)."""
