"""Email providers through django-anymail: one folder per provider (``brevo/``), sharing the
gateway's error reading (``gateway.py``) and the tracking webhooks' mapping (``tracking.py``)."""
