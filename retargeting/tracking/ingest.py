"""Writing buffered page views, product views and carts to the database, a thousand at a time.

The result is the one ``recording.record_batch`` gives hit by hit: visitors created or
refreshed, each visitor's latest cart state, every event kept and dated by the time the
collector received it (not the time it was written). A handful of queries per batch instead of
several per hit.

Purchases are never buffered (they are written before their 204), so a buffered cart can be
written after a purchase that came later. Two rules keep such a cart from being messaged:
- the visitor's purchases since the batch's first entry are replayed in time order between the
  cart events: each converts the cart that was open when it arrived, as the direct path does;
- a cart event older than the state of the visitor's open cart changes nothing but the log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from django.db.models import Q

from retargeting.db import bulk
from retargeting.tracking.cart_rules import FIELDS, apply_cart_event
from retargeting.tracking.entries import Entry
from retargeting.tracking.models import Cart, Event, Visitor
from retargeting.tracking.product_views import Seen, record_views
from retargeting.tracking.recording import LAST_SEEN_PRECISION
from retargeting.tracking.schema import KEPT_AS_EVENTS


def write_entries(entries: list[Entry]) -> None:
    """Write ``entries`` (in stream order) inside the caller's transaction."""
    if not entries:
        return
    visitors, created = _visitors(entries)
    with_carts = [entry for entry in entries if any(e["type"] == "cart" for e in entry.events)]
    if with_carts:
        _apply_carts(with_carts, visitors, created)
    record_views(
        [
            Seen(
                site_id=entry.site_id,
                visitor_id=visitors[(entry.site_id, entry.vid)],
                product=event["product"],
                at=entry.received_at,
            )
            for entry in entries
            for event in entry.events
            if event["type"] == "product_view"
        ]
    )
    bulk.insert(
        Event,
        [
            {
                "site_id": entry.site_id,
                "visitor_id": visitors[(entry.site_id, entry.vid)],
                "type": event["type"],
                "source": entry.source,
                "payload": event,
                "received_at": entry.received_at,
                "ip": entry.ip,
            }
            for entry in entries
            for event in entry.events
            if event["type"] in KEPT_AS_EVENTS
        ],
    )


def _visitors(entries: list[Entry]) -> tuple[dict[tuple[int, str], int], set[int]]:
    """The id of each entry's visitor, created if new, its last-seen time moved on (at most
    once per ``LAST_SEEN_PRECISION``) if known; and the ids of the visitors this transaction
    created (nothing else can refer to them yet: they have no cart and no purchase)."""
    first: dict[tuple[int, str], datetime] = {}
    last: dict[tuple[int, str], datetime] = {}
    for entry in entries:
        key = (entry.site_id, entry.vid)
        first.setdefault(key, entry.received_at)
        last[key] = max(last.get(key, entry.received_at), entry.received_at)
    # PostgreSQL: the new visitors in one COPY and one INSERT, their ids returned; only the
    # known ones are read. Elsewhere: read, create what is missing, read those again.
    inserted = bulk.insert_ignoring_conflicts(
        Visitor,
        [
            {"site_id": site_id, "vid": vid, "first_seen_at": first[key], "last_seen_at": last[key]}
            for key in first
            for site_id, vid in [key]
        ],
        returning=["id", "site_id", "vid"],
    )
    created: set[int] = set()
    if inserted is None:
        # Which of those found were created by bulk_create and not by a request meanwhile
        # cannot be told: none is taken for new.
        ids: dict[tuple[int, str], int] = {}
        found = _existing(first)
        missing = [key for key in first if key not in found]
        if missing:
            Visitor.objects.bulk_create(
                [
                    Visitor(
                        site_id=site_id, vid=vid, first_seen_at=first[key], last_seen_at=last[key]
                    )
                    for key in missing
                    for site_id, vid in [key]
                ],
                ignore_conflicts=True,  # created meanwhile by a request that wrote directly
                batch_size=1000,
            )
            found.update(_existing(dict.fromkeys(missing)))
    else:
        ids = {(site_id, vid): pk for pk, site_id, vid in inserted}
        created = set(ids.values())
        known = {key: None for key in first if key not in ids}
        found = _existing(known) if known else {}
    stale = []
    for key, visitor in found.items():
        ids[key] = visitor.pk
        if last[key] - visitor.last_seen_at >= LAST_SEEN_PRECISION:
            visitor.last_seen_at = last[key]
            stale.append(visitor)
    if stale:
        Visitor.objects.bulk_update(stale, ["last_seen_at"], batch_size=1000)
    return ids, created


def _existing(keys: Mapping[tuple[int, str], object]) -> dict[tuple[int, str], Visitor]:
    sites = {site_id for site_id, _ in keys}
    vids = {vid for _, vid in keys}
    # Both columns, so that the (site, vid) unique index finds them.
    rows = Visitor.objects.filter(site_id__in=sites, vid__in=vids).only(
        "id", "site_id", "vid", "last_seen_at"
    )
    return {(v.site_id, v.vid): v for v in rows if (v.site_id, v.vid) in keys}


def _apply_carts(
    entries: list[Entry], visitors: dict[tuple[int, str], int], new_visitors: set[int]
) -> None:
    visitor_ids = {visitors[(entry.site_id, entry.vid)] for entry in entries}
    known = (
        visitor_ids - new_visitors
    )  # the new visitors' carts and purchases are all in this batch
    external_ids = {
        event["cart"]["id"]
        for entry in entries
        for event in entry.events
        if event["type"] == "cart"
    }
    open_cart: dict[int, Cart | None] = defaultdict(lambda: None)
    by_external: dict[tuple[int, str], Cart] = {}
    rows = Cart.objects.select_for_update().filter(
        Q(status=Cart.Status.OPEN) | Q(external_id__in=external_ids), visitor_id__in=known
    )
    for cart in rows if known else ():
        by_external[(cart.visitor_id, cart.external_id)] = cart
        if cart.status == Cart.Status.OPEN:
            open_cart[cart.visitor_id] = cart
    since = min(entry.received_at for entry in entries)
    purchases = _purchases(known, since=since) if known else {}
    changed: dict[int, Cart] = {}  # existing carts, by id
    created: list[Cart] = []

    def settle(visitor_id: int, before: datetime | None) -> None:
        """Apply the visitor's purchases made before ``before`` (all when None) as the direct
        path did when they arrived: each converts the cart that was open then."""
        waiting = purchases.get(visitor_id)
        while waiting and (before is None or waiting[0] < before):
            bought_at = waiting.pop(0)
            current = open_cart[visitor_id]
            if current is not None and current.last_change_at <= bought_at:
                current.status = Cart.Status.CONVERTED
                current.converted_at = bought_at
                _mark(current, changed)
                open_cart[visitor_id] = None

    for entry in entries:
        visitor_id = visitors[(entry.site_id, entry.vid)]
        now = entry.received_at
        for event in entry.events:
            if event["type"] != "cart":
                continue
            settle(visitor_id, before=now)
            data = event["cart"]
            key = (visitor_id, data["id"])
            change = apply_cart_event(
                site_id=entry.site_id,
                visitor_id=visitor_id,
                open_cart=open_cart[visitor_id],
                known=by_external.get(key),
                data=data,
                at=now,
            )
            for cart in change.changed:
                _mark(cart, changed)
            if change.created is not None:
                by_external[key] = change.created
                created.append(change.created)
            open_cart[visitor_id] = change.open_cart
    for visitor_id in list(purchases):
        settle(visitor_id, before=None)
    # Carts leaving "open" first, so that no visitor has two open carts at any moment.
    closing = [cart for cart in changed.values() if cart.status != Cart.Status.OPEN]
    staying = [cart for cart in changed.values() if cart.status == Cart.Status.OPEN]
    for group in (closing, staying):
        if group:
            Cart.objects.bulk_update(group, FIELDS, batch_size=500)
    if created:
        names = [f.attname for f in Cart._meta.concrete_fields if not f.primary_key]
        bulk.insert(Cart, [{name: getattr(cart, name) for name in names} for cart in created])


def _purchases(visitor_ids: set[int], *, since: datetime) -> dict[int, list[datetime]]:
    """When each visitor bought since ``since``, oldest first; an order seen again (a reloaded
    thank-you page) counts at its first time only, as it converted nothing more."""
    seen: set[tuple[int, str]] = set()
    found: dict[int, list[datetime]] = defaultdict(list)
    rows = (
        Event.objects.filter(
            visitor_id__in=visitor_ids, type=Event.Type.PURCHASE, received_at__gte=since
        )
        .order_by("received_at", "id")
        .values_list("visitor_id", "order_id", "received_at")
    )
    for visitor_id, order_id, received_at in rows:
        if (visitor_id, order_id) not in seen:
            seen.add((visitor_id, order_id))
            found[visitor_id].append(received_at)
    return found


def _mark(cart: Cart, changed: dict[int, Cart]) -> None:
    if cart.pk is not None:
        changed[cart.pk] = cart
