"""The kinds of proof behind an identity or a consent that reaches Relance.

The tracking core only says where a claim came from; the opt-in layer's gate
(``optin/gate.py``) decides what each kind may do. Kept here, in the lowest layer, so that
every door (the collector, the server API, the platforms' webhooks) can name its proof
without importing the layer above it.
"""

from __future__ import annotations

from enum import StrEnum


class Proof(StrEnum):
    OWNER = "owner"
    """The number's owner: answered our message, or tapped our link."""
    SHOP_SERVER = "shop_server"
    """The shop's server vouching for it: the secret key, an explicit API call."""
    CLAIM = "claim"
    """What a shopper typed, whether a browser sends it or a signed platform webhook relays
    it (a checkout's phone, a ticked consent box, a billing first name)."""
