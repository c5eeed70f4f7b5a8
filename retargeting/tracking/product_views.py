"""Recording product views compactly: the product as its page showed it, and one row per
browser, product and day.

A shop with a million product views a day must not grow a table by a million rows: a view is
not kept as an event. It updates the product (``Product``, one row per shop's product id) and
the browser's ``ProductView`` of that day (its latest time), both in one statement per
thousand views, on both of the collector's paths (written in the request, and the buffer's
ingest). ``retention.purge_old_product_views`` removes the days past
``PRODUCT_VIEW_RETENTION_DAYS``.

What a page says about a product is the shopper's browser talking. Its name, price, picture
and page address are taken as the latest word (a reminder shows them); its availability only
while the shop itself has never reported the product's stock (``stock_changed_at`` empty):
once the shop's server or platform has spoken, its word stands until it speaks again, and a
page never dates a restock (``restocked_at``): back-in-stock alerts wait for the shop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model

from retargeting.tracking.models import Product, ProductView

# Rows per statement: 10 columns each, well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Seen:
    """One product view: the site, the browser (``Visitor`` id), the product as validated by
    ``schema.product_view`` and the server's time of the view."""

    site_id: int
    visitor_id: int
    product: dict[str, Any]
    at: datetime


def day_of(at: datetime) -> date:
    """The day a view counts for: its UTC date (the same for every site and every server)."""
    return at.astimezone(UTC).date()


def record_views(views: Sequence[Seen]) -> None:
    """Write ``views`` inside the caller's transaction: the products upserted, then the
    browsers' views of the day; two statements per ``CHUNK`` products and views, whatever
    they hold. Views may come in any order; the latest wins."""
    if not views:
        return
    ids = _upsert_products(views)
    latest: dict[tuple[int, int, date], Seen] = {}
    for seen in views:
        product_id = ids[(seen.site_id, str(seen.product["id"]))]
        key = (seen.visitor_id, product_id, day_of(seen.at))
        if key not in latest or latest[key].at < seen.at:
            latest[key] = seen
    rows = [
        {
            "site_id": seen.site_id,
            "visitor_id": visitor_id,
            "product_id": product_id,
            "day": day,
            "viewed_at": seen.at,
        }
        for (visitor_id, product_id, day), seen in sorted(latest.items(), key=lambda kv: kv[0])
    ]
    table = _table(ProductView)
    viewed = _quote("viewed_at")
    for chunk in _chunks(rows):
        _upsert(
            ProductView,
            chunk,
            conflict=("visitor_id", "product_id", "day"),
            # The latest view of the day, whichever of the two arrived last.
            updates={
                "viewed_at": f"CASE WHEN excluded.{viewed} > {table}.{viewed} "
                f"THEN excluded.{viewed} ELSE {table}.{viewed} END"
            },
        )


def _upsert_products(views: Sequence[Seen]) -> dict[tuple[int, str], int]:
    """Each viewed product's row id, by (site, shop's product id), created or updated."""
    latest: dict[tuple[int, str], tuple[datetime, dict[str, Any]]] = {}
    available: dict[tuple[int, str], tuple[datetime, bool]] = {}
    for seen in views:
        key = (seen.site_id, str(seen.product["id"]))
        if key not in latest or latest[key][0] <= seen.at:
            latest[key] = (seen.at, seen.product)
        said = seen.product.get("available")
        if said is not None and (key not in available or available[key][0] <= seen.at):
            available[key] = (seen.at, said)
    rows = []
    for key in sorted(latest):
        at, product = latest[key]
        rows.append(
            {
                "site_id": key[0],
                "external_id": key[1],
                "sku": product.get("sku", ""),
                "name": product["name"],
                "url": product["url"],
                "image": product.get("image", ""),
                "price": Decimal(product["price"]),
                "currency": product["currency"],
                "available": available[key][1] if key in available else None,
                "updated_at": at,
            }
        )
    table = _table(Product)

    def kept(name: str) -> str:
        """The page's value, or the row's when the page gave none."""
        column = _quote(name)
        return f"COALESCE(NULLIF(excluded.{column}, ''), {table}.{column})"

    avail, changed = _quote("available"), _quote("stock_changed_at")

    def shops(name: str) -> str:
        """The page's value while the shop has never reported the product; once it has (its
        server or platform: ``stock_changed_at``), what it knows stands and a page only fills
        a blank. A page is anyone's claim: its name and price reach other customers' messages."""
        column = _quote(name)
        blank = f"{table}.{column} IS NULL" + (
            "" if name == "price" else f" OR {table}.{column} = ''"
        )
        return (
            f"CASE WHEN {table}.{changed} IS NULL OR {blank} "
            f"THEN excluded.{column} ELSE {table}.{column} END"
        )

    updated = _quote("updated_at")
    ids: dict[tuple[int, str], int] = {}
    for chunk in _chunks(rows):
        returned = _upsert(
            Product,
            chunk,
            conflict=("site_id", "external_id"),
            updates={
                "name": shops("name"),
                "url": shops("url"),
                "price": shops("price"),
                "currency": shops("currency"),
                "sku": kept("sku"),
                "image": kept("image"),
                # The page's word on stock only where the shop's has never been given.
                "available": f"CASE WHEN excluded.{avail} IS NULL OR {table}.{changed} IS NOT "
                f"NULL THEN {table}.{avail} ELSE excluded.{avail} END",
                "updated_at": f"CASE WHEN excluded.{updated} > {table}.{updated} "
                f"THEN excluded.{updated} ELSE {table}.{updated} END",
            },
            returning=("id", "site_id", "external_id"),
        )
        ids.update({(site_id, external_id): pk for pk, site_id, external_id in returned})
    return ids


def _quote(name: str) -> str:
    return str(connection.ops.quote_name(name))


def _table(model: type[Model]) -> str:
    return _quote(model._meta.db_table)


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _upsert(
    model: type[Model],
    rows: list[dict[str, Any]],
    *,
    conflict: tuple[str, ...],
    updates: dict[str, str],
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """``INSERT … ON CONFLICT (conflict) DO UPDATE SET updates [RETURNING …]`` in one
    statement (PostgreSQL and SQLite ≥ 3.35 alike). Values go through each field's own
    conversion for the database; only our quoted names and the fixed ``updates``
    expressions are formatted into the SQL."""
    fields = [cast("Field[Any, Any]", model._meta.get_field(name)) for name in rows[0]]
    columns = ", ".join(_quote(str(field.column)) for field in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [
        field.get_db_prep_save(row[name], connection)
        for row in rows
        for name, field in zip(row, fields, strict=True)
    ]
    sets = ", ".join(f"{_quote(name)} = {expression}" for name, expression in updates.items())
    sql = (
        f"INSERT INTO {_table(model)} ({columns}) VALUES "  # noqa: S608
        + ", ".join([placeholders] * len(rows))
        + f" ON CONFLICT ({', '.join(_quote(name) for name in conflict)}) DO UPDATE SET {sets}"
    )
    if returning:
        sql += " RETURNING " + ", ".join(_quote(name) for name in returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if returning else []
