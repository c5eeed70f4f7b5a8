"""How tracking tells the higher layers that a person identified themselves or bought, and
that products came back in stock.

Both are sent once the events are committed, with ``send_robust``: a failing receiver is
logged and never undoes what was recorded, and the stored ``Event`` row keeps the payload.

``identify_received`` kwargs: ``site_id``, ``visitor_id`` (or None), ``event_id``, ``event``
(the validated payload; a phone is already in E.164), ``proof`` (a ``proofs.Proof``: the
shop's server API vouches, anything else is a claim), ``authenticated`` (``proof`` is the
shop's server's), ``relayed`` (a claim a signed platform webhook relays), ``ip`` (truncated),
``user_agent``.

``purchase_received`` kwargs: ``site_id``, ``visitor_id`` (or None), ``event_id``, ``event``,
``cart_id`` (the cart the purchase converted, or None), ``phone`` (E.164, server API only).
"""

from django.dispatch import Signal

identify_received = Signal()
purchase_received = Signal()

# ``products_restocked`` kwargs: ``site_id``, ``product_ids`` (``Product`` primary keys that
# went from unavailable to available in one report), ``at`` (their ``restocked_at``). Sent once
# the report is committed (``catalog.update_products``), with ``send_robust``. An accelerator
# only: the back-in-stock pass plans from ``Product.restocked_at`` whether or not it ran.
products_restocked = Signal()
