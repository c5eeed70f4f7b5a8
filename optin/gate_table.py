"""What each door does with a number or an email address, per kind of proof and the
address's state: the gate's promise (``optin/gate.py``), in one table.

docs/consent.md shows ``render()`` between its ``gate-table`` markers; the test
tests/optin/test_gate_table.py checks the page is this table and sends every built row through
its real door (HTTP, signed webhooks), on a site with double opt-in, so the code, the table and
the page cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from retargeting.tracking.proofs import Proof

STATES = ("unknown", "pending", "granted", "revoked")


@dataclass(frozen=True)
class Row:
    door: str
    """The way in, as the table names it (the test keys its requests on it)."""
    proof: Proof | None
    state: str
    """The number's state at this shop before the request: one of ``STATES``, or "any"."""
    consent: str
    """Its state after: unknown (no contact), none (a contact without consent), pending,
    granted, revoked, confirmed."""
    ties: bool | None
    """Whether the browser, the cart or the order becomes the number's (None: nothing to tie)."""
    sms: int
    """Confirmation SMS the request causes."""
    answer: int | None
    """The door's HTTP status (the same for every state of a claim)."""
    note: str = ""
    built: bool = True
    channel: str = "sms"
    """Whose state the row is about: the number's (``sms``) or the email address's (``email``);
    ``consent`` is that channel's, ``sms`` counts that channel's confirmations (SMS or emails)."""


def _claim(
    door: str, answer: int, *, ties_new: bool | None = True, channel: str = "sms"
) -> list[Row]:
    """A claim that gives consent: it starts the double opt-in of a number (or an address)
    without a state, and changes nothing about one that has one."""
    return [
        Row(door, Proof.CLAIM, "unknown", "pending", ties_new, 1, answer, channel=channel),
        *(
            Row(
                door,
                Proof.CLAIM,
                state,
                state,
                False if ties_new is not None else None,
                0,
                answer,
                channel=channel,
            )
            for state in STATES[1:]
        ),
    ]


TABLE: list[Row] = [
    *_claim("snippet identify (`POST /t/e`)", 204),
    *_claim("hosted page (`/o/KEY/`)", 200, ties_new=None),
    *(
        Row(
            "pixel (`/t/p.gif`)",
            Proof.CLAIM,
            state,
            state,
            None,
            0,
            200,
            "reads no identity: page views only",
        )
        for state in STATES
    ),
    *(
        Row(
            "server API identify (`POST /api/v1/identify`)",
            Proof.SHOP_SERVER,
            state,
            "granted",
            True,
            0,
            200,
            "the shop vouches: consent given or given back (never after an erasure that "
            "followed a STOP)"
            if state == "revoked"
            else "",
        )
        for state in STATES
    ),
    *(
        Row(
            "server API carts with a `phone` (`POST /api/v1/carts`)",
            Proof.SHOP_SERVER,
            state,
            "none" if state == "unknown" else state,
            True,
            0,
            200,
            "the cart is the number's; consent never changes",
        )
        for state in STATES
    ),
    *(
        Row(
            "server API purchase with a `phone` (`POST /api/v1/purchases`)",
            Proof.SHOP_SERVER,
            state,
            state,
            None if state == "unknown" else True,
            0,
            200,
            "the number's open carts convert and the order is theirs",
        )
        for state in STATES
    ),
    *(
        Row(
            "CSV import (admin: a member vouching with each row's consent proof)",
            Proof.SHOP_SERVER,
            state,
            {"unknown": "granted", "pending": "granted"}.get(state, state),
            None,
            0,
            200,
            {
                "granted": "already consenting: nothing changed",
                "revoked": "an import never undoes a STOP",
            }.get(state, "the dated consent of the file, its source and wording kept as proof"),
        )
        for state in STATES
    ),
    *_claim("Shopify checkout webhook (phone, ticked SMS box)", 200),
    *(
        Row(
            "Shopify order webhook (its phone)",
            Proof.CLAIM,
            state,
            "none" if state == "unknown" else state,
            None if state == "unknown" else False,
            0,
            200,
            "found by the checkout or cart token and the customer id only; the order's own "
            "messages (confirmation, shipping) go to the number typed: no consent given",
        )
        for state in STATES
    ),
    *_claim("WooCommerce order webhook (billing phone, ticked meta field)", 200),
    *(
        Row(
            "WooCommerce paid order webhook (billing phone)",
            Proof.CLAIM,
            state,
            "none" if state == "unknown" else state,
            None if state == "unknown" else False,
            0,
            200,
            "found by its own order, the customer id (and the cart hash among that "
            "customer's carts) only; the order's own messages go to the number typed: no "
            "consent given",
        )
        for state in STATES
    ),
    # --- The orders' door (`optin.gate.order_recipient`): where an order's own messages go.
    *(
        Row(
            "server API order with a `phone` (`POST /api/v1/orders`)",
            Proof.SHOP_SERVER,
            state,
            "none" if state == "unknown" else state,
            True,
            0,
            200,
            "the order's browser (`vid`) is the number's; the order's own messages "
            "(confirmation, shipping) go to the number without marketing consent; consent "
            "never changes (a STOP stands)",
        )
        for state in STATES
    ),
    Row(
        "contact token (`_rl`, `identify` with `token`)",
        Proof.OWNER,
        "unknown",
        "unknown",
        None,
        0,
        204,
        "no token exists for a number we never messaged: a forged one links nothing",
    ),
    *(
        Row(
            "contact token (`_rl`, `identify` with `token`)",
            Proof.OWNER,
            state,
            state,
            True,
            0,
            204,
            "the browser that first tapped our link is the number's (once, within 30 minutes "
            "of the tap, from that browser); consent never changes",
        )
        for state in STATES[1:]
    ),
    Row(
        "PrestaShop module",
        None,
        "any",
        "—",
        None,
        0,
        None,
        "not built yet: it will call the server API rows above; a number typed at its "
        "checkout must reach the gate as a claim",
        built=False,
    ),
    # --- The bridge (`email_cart`): a browser's cart sent to a typed address. Its state is the
    # address's (email consent); the rows hold whatever the same person's number is in.
    *(
        Row(
            "bridge `email_cart` (`POST /t/e`, a typed email address)",
            Proof.CLAIM,
            state,
            "none" if state == "unknown" else state,
            False,
            0,
            204,
            "the cart is emailed once (asked for: no consent needed, none given or changed); "
            "the tapping browser becomes the address's only when its owner taps that email's "
            "link (the contact token); the asking browser too, only for a contact without live "
            "consent on any channel",
            channel="email",
        )
        for state in STATES
    ),
]

# A member of the shop unsubscribing someone by hand (`campaigns/dashboard/contacts.py`,
# `optin.consent.unsubscribe_by_hand`): only ever a revocation, with who, when and why.
_HAND_NOTE = (
    "a member of the shop, signed in, with a required reason: revoked with who, when and why "
    "(planned messages then dropped as after a STOP); consent is never given back by hand"
)
TABLE += [
    *(
        Row(
            f"{prefix}dashboard unsubscribe by hand (`POST /dashboard/contacts/ID/unsubscribe`)",
            Proof.SHOP_SERVER,
            state,
            "unknown" if state == "unknown" else "revoked",
            None,
            0,
            404 if state == "unknown" else 302,
            "no contact: nothing to unsubscribe"
            if state == "unknown"
            else ("already revoked: nothing changed" if state == "revoked" else _HAND_NOTE),
            channel=channel,
        )
        for prefix, channel in (("", "sms"), ("email: ", "email"))
        for state in STATES
    ),
]

# The email address's rows: the same promise per door, for an address and its email consent
# (the number's consent is never read nor changed by them).
EMAIL_TABLE: list[Row] = [
    *_claim("email: snippet identify (`email`, `email_consent`)", 204, channel="email"),
    *(
        Row(
            "email: server API identify (`email`, `email_consent`)",
            Proof.SHOP_SERVER,
            state,
            "granted",
            True,
            0,
            200,
            "the shop vouches: consent given or given back (never after an erasure that "
            "followed an unsubscribe)"
            if state == "revoked"
            else "",
            channel="email",
        )
        for state in STATES
    ),
    *_claim(
        "email: Shopify checkout webhook (email, `buyer_accepts_marketing`)", 200, channel="email"
    ),
    *_claim(
        "email: WooCommerce order webhook (billing email, ticked named email field)",
        200,
        channel="email",
    ),
    Row(
        "email: confirmation link (`/o/e/CODE`, its button)",
        Proof.OWNER,
        "unknown",
        "unknown",
        None,
        0,
        404,
        "no link exists for an address we never wrote to: a forged one confirms nothing",
        channel="email",
    ),
    *(
        Row(
            "email: confirmation link (`/o/e/CODE`, its button)",
            Proof.OWNER,
            state,
            {"pending": "confirmed"}.get(state, state),
            None,
            0,
            200,
            {
                "pending": "the owner's answer: only the latest email's link, within 7 days; "
                "it ties no browser (a forwarded link gives nobody her carts)",
                "revoked": "an unsubscribe stands: only a new consent and its confirmation "
                "bring the address back",
            }.get(state, "already consenting: nothing changed"),
            channel="email",
        )
        for state in STATES[1:]
    ),
    Row(
        "email: contact token (`_rl`, `identify` with `token`)",
        Proof.OWNER,
        "unknown",
        "unknown",
        None,
        0,
        204,
        "no token exists for an address we never wrote to",
        channel="email",
    ),
    *(
        Row(
            "email: contact token (`_rl`, `identify` with `token`)",
            Proof.OWNER,
            state,
            state,
            True,
            0,
            204,
            "as for a number: the browser that first followed our link, once, soon after",
            channel="email",
        )
        for state in STATES[1:]
    ),
]
# The bridge's rows (`email_cart`: a cart sent to an address at the shopper's request) come in
# a block of their own, after these.
TABLE += EMAIL_TABLE

# Back in stock (`back_in_stock`): a request to be told once when a product returns. It gives
# no consent and ties no browser; from a browser that has not proven the address, its owner
# confirms it first (one SMS or email with a link, under identify's limits); never a message,
# not even a confirmation, to an address that said STOP or unsubscribed.
_STOCK_NOTE = (
    "recorded with its wording; alerted once at the restock after its owner confirms it "
    "(`/b/CODE`), or at once from a browser the owner or the shop's server proved hers"
)
TABLE += [
    *(
        Row(
            f"{prefix}back in stock `back_in_stock` (`POST /t/e`, a typed {what})",
            Proof.CLAIM,
            state,
            "none" if state == "unknown" else state,
            False,
            0 if state == "revoked" else 1,
            204,
            "nothing recorded, nothing sent" if state == "revoked" else _STOCK_NOTE,
            channel=channel,
        )
        for prefix, what, channel in (("", "number", "sms"), ("email: ", "address", "email"))
        for state in STATES
    ),
    *(
        Row(
            "server API back in stock (`POST /api/v1/back_in_stock`)",
            Proof.SHOP_SERVER,
            state,
            "none" if state == "unknown" else state,
            None,
            0,
            200,
            "nothing recorded, nothing sent: the shop's server does not undo a STOP either"
            if state == "revoked"
            else "recorded confirmed (the shop vouches); alerted once at the restock",
        )
        for state in STATES
    ),
]

_PROOF_WORDS = {
    Proof.OWNER: "owner",
    Proof.SHOP_SERVER: "shop's server",
    Proof.CLAIM: "claim",
    None: "—",
}
_TIES = {True: "yes", False: "**no**", None: "—"}

START = "<!-- gate-table:start -->"
END = "<!-- gate-table:end -->"


def render() -> str:
    """The table as docs/consent.md shows it (between ``START`` and ``END``)."""
    lines = [
        "| door | proof | the number (address) is | consent after | browser, cart or order "
        "becomes the number's (address's) | confirmation SMS (email) | answer | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in TABLE:
        lines.append(
            f"| {row.door} | {_PROOF_WORDS[row.proof]} | {row.state} | {row.consent} | "
            f"{_TIES[row.ties]} | {row.sms if row.built else '—'} | "
            f"{row.answer if row.answer is not None else '—'} | {row.note} |"
        )
    return "\n".join(lines)
