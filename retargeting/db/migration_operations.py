"""Migration operations that are safe on a live database.

Relance's big tables (events, carts, visitors, sends and their history) take writes every
second; a plain ``CREATE INDEX`` on one of them blocks those writes until it is built.
tests/test_migrations.py checks every migration that touches them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently as PostgresAddIndexConcurrently
from django.db.migrations.operations import AddConstraint, AddIndex
from django.db.migrations.operations.base import Operation
from django.db.models import Field


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


class AlterLabels(Operation):
    """Fields of one model whose labels changed (verbose names, help texts, choices' labels):
    nothing the database sees, and one change of the migration state for the model instead of
    one per field. A plain ``AlterField`` per field re-renders the model (and, for a relation,
    every model related to it) each time: the French labels' three hundred of them made every
    migration run, the tests' included, seconds slower.

    tests/test_migrations.py checks that each field differs from its previous state only in
    ``Field.non_db_attrs``."""

    reduces_to_sql = False
    reversible = True

    def __init__(self, model_name: str, fields: list[tuple[str, Field[Any, Any]]]) -> None:
        self.model_name = model_name
        self.fields = fields

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "fields": self.fields},
        )

    def state_forwards(self, app_label: str, state: Any) -> None:
        key = (app_label, self.model_name.lower())
        fields = state.models[key].fields
        for name, field in self.fields:
            old = fields.get(name)
            fields[name] = field
            if state._relations is not None:  # as ProjectState.alter_field keeps them
                state.resolve_model_field_relations(key, name, old)
                state.resolve_model_field_relations(key, name, field)
        # Labels change no relation: the related models need not be rendered again.
        state.reload_model(*key, delay=True)

    def database_forwards(self, *args: Any) -> None:
        pass  # labels only: no SQL

    def database_backwards(self, *args: Any) -> None:
        pass

    def describe(self) -> str:
        return f"Alter the labels of {len(self.fields)} fields of {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"labels_{self.model_name.lower()}"
