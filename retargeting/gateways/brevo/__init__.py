"""Brevo: its gateway (``gateway.py``), error table, settings check and webhook.

Chosen by ``SMS_BACKEND=brevo`` (``registry.py``); its webhook is mounted under
``webhooks/brevo/``. This package imports nothing at load, so that the settings check can be
read before Django is set up.
"""
