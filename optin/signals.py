"""Signals the opt-in layer sends to the layer above it.

``contact_erasing`` (kwargs ``contact_id``, ``site_id``) is sent inside the erasure's
transaction, before the contact is deleted: receivers remove the personal data they hold.
"""

from django.dispatch import Signal

contact_erasing = Signal()
