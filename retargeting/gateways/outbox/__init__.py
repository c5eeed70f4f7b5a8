"""The outbox: messages kept on the machine and shown on the phone simulator (``/dev/phone/``).

Chosen by ``SMS_BACKEND=outbox``, the embedded mode's default (``registry.py``). This package
imports nothing at load, so that the settings check can be read before Django is set up.
"""
