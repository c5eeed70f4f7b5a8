"""Migration operations that are safe on a live database.

Relance's big tables (events, carts, visitors, sends and their history) take writes every
second; a plain ``CREATE INDEX`` on one of them blocks those writes until it is built.
tests/test_migrations.py checks every migration that touches them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently as PostgresAddIndexConcurrently
from django.db.migrations.operations import AddConstraint, AddIndex


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


class AddUniqueConstraintConcurrently(AddConstraint):
    """A conditional unique constraint (a partial unique index) built with ``CREATE UNIQUE
    INDEX CONCURRENTLY`` on PostgreSQL, so writes go on while it builds; a plain one on the
    embedded SQLite database. The migration needs ``atomic = False``."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        if getattr(self.constraint, "condition", None) is None:
            raise ValueError("only a conditional unique constraint is an index to build")
        statement = str(self.constraint.create_sql(model, schema_editor))
        schema_editor.execute(
            statement.replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1)
        )
