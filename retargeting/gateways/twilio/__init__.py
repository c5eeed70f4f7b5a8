"""Twilio: its gateway (``gateway.py``), error table, settings check and webhooks.

Chosen by ``SMS_BACKEND=twilio`` (``registry.py``); its webhooks are mounted under
``webhooks/twilio/``. This package imports nothing at load, so that the settings check can be
read before Django is set up.
"""
