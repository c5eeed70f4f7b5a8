"""Writing thousands of new rows at once: COPY on PostgreSQL, ``bulk_create`` elsewhere.

Django's ``bulk_create`` builds and quotes every value in Python; for the collector's ingest
and the dispatch pass, which write thousands of rows a second, PostgreSQL's COPY is several
times faster. Rows are dicts of field values by attribute name; the other fields take their
defaults (``auto_now`` and ``auto_now_add`` fields: now).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from django.db import OperationalError, connection, transaction
from django.db.models import Field, JSONField, Model
from django.utils import timezone

logger = logging.getLogger(__name__)


def insert(model: type[Model], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` whose ids nobody needs back."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**row) for row in rows], batch_size=1000)
        return
    _copy(model, connection.ops.quote_name(model._meta.db_table), rows)


def insert_ignoring_conflicts(
    model: type[Model], rows: Sequence[dict[str, Any]], *, returning: Sequence[str]
) -> list[tuple[Any, ...]] | None:
    """Insert ``rows``, skipping those a unique constraint refuses; return the ``returning``
    columns of the rows inserted. On PostgreSQL only (None elsewhere: the caller uses
    ``bulk_create(ignore_conflicts=True)`` and reads back what it needs)."""
    if connection.vendor != "postgresql":
        return None
    if not rows:
        return []
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    staging = quote(f"bulk_{model._meta.db_table}")
    columns = ", ".join(quote(str(f.column)) for f in _fields(model))
    with connection.cursor() as cursor:
        # The same columns, no constraint: the rows are checked when they move to the table.
        # Quoted names of our own tables and columns; no value is ever formatted in.
        create = (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS "  # noqa: S608
            f"AS SELECT {columns} FROM {table} WITH NO DATA"
        )
        cursor.execute(create)
        cursor.execute(f"TRUNCATE {staging}")
    _copy(model, staging, rows)
    with connection.cursor() as cursor:
        move = (
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "  # noqa: S608
            f"ON CONFLICT DO NOTHING RETURNING {', '.join(quote(name) for name in returning)}"
        )
        cursor.execute(move)
        return [tuple(row) for row in cursor.fetchall()]


def _fields(model: type[Model]) -> list[Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _copy(model: type[Model], table: str, rows: Sequence[dict[str, Any]]) -> None:
    fields = _fields(model)
    now = timezone.now()
    defaults = {
        f.attname: now
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in fields
    }
    encoders = {f.attname: f.encoder for f in fields if isinstance(f, JSONField)}
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    sql = f"COPY {table} ({columns}) FROM STDIN"
    # The driver's own cursor (Django's has no COPY): its errors are raised as Django's
    # (``DatabaseError`` and its family), as every other statement's are, so a caller's
    # ``except DatabaseError`` catches a value the table refuses here too.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            values = {**defaults, **row}
            for name, encoder in encoders.items():
                values[name] = _json(values[name], encoder)
            copy.write_row([values[f.attname] for f in fields])


# orjson would write datetimes, dataclasses and subclasses of str or int its own way: those
# go to the standard library's json, so a value is written (or refused) as Django writes it.
_ORJSON_AS_DJANGO = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _json(value: Any, encoder: type[json.JSONEncoder] | None) -> str:
    """A JSON column's text as ``json.dumps`` gives it (spacing aside: jsonb keeps none),
    five times faster for the plain values of page views and carts."""
    if encoder is None:
        try:
            return orjson.dumps(value, option=_ORJSON_AS_DJANGO).decode()
        except TypeError:  # a value orjson leaves to json (a Decimal, a big integer…)
            pass
    return json.dumps(value, cls=encoder)


def update(model: type[Model], objects: Sequence[Model], fields: Sequence[str]) -> None:
    """Save ``fields`` of each of ``objects`` (values as set on them) in one UPDATE.

    What ``bulk_update`` does, without its ``CASE WHEN`` per row and field, which Django builds
    expression by expression (over 100 ms for fifty rows of ten fields): the rows' values are
    joined as a ``VALUES`` list. Both databases run it (SQLite since 3.33).
    """
    if not objects or not fields:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns: list[Field[Any, Any]] = []
    for name in fields:
        field = meta.get_field(name)
        assert isinstance(field, Field)  # a concrete column, not a reverse relation
        columns.append(field)
    pk = meta.pk
    assert pk is not None
    postgresql = connection.vendor == "postgresql"

    def typed(name: str, field: Field[Any, Any]) -> str:
        # PostgreSQL types a VALUES list from its literals (NULL as text): each is cast.
        return f"CAST(v.{name} AS {field.db_type(connection)})" if postgresql else f"v.{name}"

    names = [f"c{index}" for index in range(len(columns))]
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    params: list[Any] = []
    for obj in objects:
        params.append(pk.get_db_prep_save(obj.pk, connection))
        for field in columns:
            params.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
    table = quote(meta.db_table)
    assignments = ", ".join(
        f"{quote(str(field.column))} = {typed(name, field)}"
        for name, field in zip(names, columns, strict=True)
    )
    sql = (
        f"WITH v (k, {', '.join(names)}) AS (VALUES {', '.join([row] * len(objects))}) "  # noqa: S608
        f"UPDATE {table} SET {assignments} FROM v "
        f"WHERE {table}.{quote(str(pk.column))} = {typed('k', pk)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# PostgreSQL's autovacuum analyzes a table once a tenth of it changed, within a minute or so;
# the same rule, applied at once by whoever has just written that many rows.
STALE_SHARE = 0.1
STALE_MINIMUM = 1000
# How long to wait for a conflicting lock (a VACUUM, another pass's ANALYZE) before leaving
# the statistics to autovacuum: the caller's work must not stall on them.
ANALYZE_LOCK_TIMEOUT = "2s"


def refresh_statistics(model: type[Model], *, added: int) -> bool:
    """ANALYZE ``model``'s table when ``added`` new rows make its statistics stale; return
    whether it did. PostgreSQL only.

    The query planner reads row counts and value ranges from the statistics: until they are
    refreshed, rows just written in bulk are invisible to it, and a claim of a hundred sends
    by id, for one, scans the hundred thousand just planned (35 ms instead of 1 ms).
    """
    if connection.vendor != "postgresql" or added < STALE_MINIMUM:
        return False
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    known = max(row[0], 0) if row else 0  # -1: never analyzed
    if added <= STALE_SHARE * known:
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # For this statement only (a caller's own transaction keeps its setting).
            cursor.execute(
                "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                [ANALYZE_LOCK_TIMEOUT],
            )
            before = cursor.fetchone()[0]
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])
    except OperationalError:  # the lock was not had in time
        logger.warning("statistics of %s left to autovacuum: the table is locked", table)
        return False
    return True
