"""Migration operations that are safe on a live database.

Relance's big tables (events, carts, visitors, sends and their history) take writes every
second; a plain ``CREATE INDEX`` on one of them blocks those writes until it is built.
tests/test_migrations.py checks every migration that touches them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently as PostgresAddIndexConcurrently
from django.db.migrations.operations import AddIndex


class AddIndexConcurrently(PostgresAddIndexConcurrently):
    """``CREATE INDEX CONCURRENTLY`` on PostgreSQL (writes go on while it builds); a plain
    index on the embedded SQLite database. The migration needs ``atomic = False``."""

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, *args)
