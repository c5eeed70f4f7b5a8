"""Migrations are safe on a live database: nothing holds a long lock on the busy tables.

Checked over every migration of the project, so a new one is covered without a new test:
on the tables that take writes every second, an index is built concurrently (in a migration
without a transaction), a column is added without a table rewrite (nullable, or with a
constant default), no column changes type in place, and data is filled in batches.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection, migrations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import (
    AddConstraint,
    AddField,
    AddIndex,
    AlterField,
    CreateModel,
    RunPython,
    RunSQL,
)
from django.db.models import NOT_PROVIDED

from retargeting.db.migration_operations import (
    AddIndexConcurrently,
    AddUniqueConstraintConcurrently,
    AlterLabels,
)

BUSY = {
    ("tracking", "event"),
    ("tracking", "cart"),
    ("tracking", "visitor"),
    ("campaigns", "send"),
    ("campaigns", "sendevent"),
    ("campaigns", "click"),
}
# Migrations that ran before the check existed and were read by hand: (app, name): why safe.
REVIEWED: dict[tuple[str, str], str] = {
    ("campaigns", "0002_send_contact_kept_after_erasure"): (
        "makes sends.contact nullable: DROP NOT NULL changes only the catalogue"
    ),
    ("campaigns", "0011_channels_and_email"): (
        "its CHECK on sends.channel scans the sends under an exclusive lock to validate: "
        "found when the check learned constraints, after it was applied everywhere; a new "
        "one is refused"
    ),
    ("campaigns", "0014_journeys"): (
        "makes sends.cart nullable (DROP NOT NULL changes only the catalogue) and adds the "
        "nullable subject_id; the rest creates tables or touches flows"
    ),
    ("tracking", "0007_visitor_id_matched_whole"): (
        "changes only the visitor id's validator (a Python check): no SQL at all"
    ),
}


def project_migrations():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        if app in {"tracking", "campaigns", "optin", "sites", "gateways"}:
            yield app, name, migration


@functools.cache
def _state_before(app, name):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    if (app, name) not in loader.graph.nodes:
        return None
    return loader.project_state((app, name), at_end=False)


def labels_only(app, migration, op):
    """Whether an AlterField changes only what the database never sees (verbose name, help
    text, choices: ``Field.non_db_attrs``): no SQL, no lock."""
    before = _state_before(app, migration.name)
    if before is None:
        return False
    old = before.models[app, op.model_name.lower()].fields[op.name]

    def database_side(field):
        path, args, kwargs = field.deconstruct()[1:]
        return path, args, {k: v for k, v in kwargs.items() if k not in field.non_db_attrs}

    return database_side(old) == database_side(op.field)


def problems_of(app, migration):
    created = {op.name.lower() for op in migration.operations if isinstance(op, CreateModel)}
    busy_touched = False
    for op in migration.operations:
        model = getattr(op, "model_name", "") or ""
        on_busy = (app, model.lower()) in BUSY and model.lower() not in created
        busy_touched |= on_busy
        if on_busy and isinstance(op, AddIndex) and not isinstance(op, AddIndexConcurrently):
            yield f"{op.describe()}: a plain index blocks writes while it builds"
        if on_busy and isinstance(op, AddField):
            field = op.field
            # Django adds the column with a constant default, then drops the default: on
            # PostgreSQL 11 and later that rewrites nothing. A blank text column gets ''.
            blank_text = field.blank and field.empty_strings_allowed
            has_default = field.has_default() or field.db_default is not NOT_PROVIDED
            if not (field.null or has_default or blank_text):
                yield f"{op.describe()}: NOT NULL without a default"
            if field.unique:
                yield f"{op.describe()}: a unique column builds its index under a lock"
        if (
            on_busy
            and isinstance(op, AddConstraint)
            and not isinstance(op, AddUniqueConstraintConcurrently)
        ):
            yield f"{op.describe()}: a constraint is built or checked under a lock"
        if on_busy and isinstance(op, AlterField) and not labels_only(app, migration, op):
            yield f"{op.describe()}: a type change rewrites the table under a lock"
        if isinstance(op, AlterLabels):  # it runs no SQL: anything more than labels is lost
            for name, field in op.fields:
                if not labels_only(app, migration, AlterField(op.model_name, name, field)):
                    yield f"{op.describe()}: {name} changes more than its labels"
        if isinstance(op, RunPython) and op.atomic and busy_touched:
            yield "RunPython on a busy table inside one transaction"
        if isinstance(op, RunSQL) and busy_touched:
            yield "raw SQL on a busy table: review it by hand and list it in REVIEWED"
    concurrent = any(isinstance(op, AddIndexConcurrently) for op in migration.operations)
    if concurrent and migration.atomic:
        yield "a concurrent index needs `atomic = False` on the migration"


def test_every_migration_on_a_busy_table_is_safe_on_a_live_database():
    checked = 0
    found = {}
    for app, name, migration in project_migrations():
        checked += 1
        if (app, name) in REVIEWED:
            continue
        problems = list(problems_of(app, migration))
        if problems:
            found[f"{app}.{name}"] = problems
    assert checked >= 10
    assert found == {}


def test_the_check_finds_a_plain_index_on_the_events_table():
    from django.db import migrations, models

    class Unsafe(migrations.Migration):
        operations = [
            migrations.AddIndex(
                model_name="event", index=models.Index(fields=["type"], name="event_type")
            ),
            migrations.AddField(model_name="event", name="flag", field=models.IntegerField()),
        ]

    problems = list(problems_of("tracking", Unsafe("0099_unsafe", "tracking")))
    assert len(problems) == 2
    assert "plain index" in problems[0] and "NOT NULL" in problems[1]


@pytest.mark.django_db(transaction=True)
def test_the_order_id_migration_fills_old_purchases_in_batches_and_indexes_them():
    start = [("tracking", "0001_initial")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(start)
        applied = MigrationExecutor(connection)  # reads what is applied now
        old = applied._create_project_state(with_applied_migrations=True).apps
        Site = old.get_model("sites", "Site")
        Visitor = old.get_model("tracking", "Visitor")
        Event = old.get_model("tracking", "Event")
        site = Site.objects.create(
            name="Old",
            public_key="pk_old",
            secret_key_hash="h" * 64,
            country="FR",
            time_zone="Europe/Paris",
            quiet_hours="fr_strict",
        )
        visitor = Visitor.objects.create(
            site=site,
            vid="v" * 32,
            first_seen_at="2026-01-01T00:00Z",
            last_seen_at="2026-01-01T00:00Z",
        )
        for n in range(2_500):  # more than one batch
            Event.objects.create(
                site=site,
                visitor=visitor,
                type="purchase" if n % 2 else "page_view",
                received_at="2026-01-01T00:00Z",
                payload={"order_id": f"o-{n}"} if n % 2 else {},
            )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT type, order_id FROM tracking_event WHERE id IN "
                "(SELECT min(id) FROM tracking_event GROUP BY type)"
            )
            first = dict(cursor.fetchall())
            cursor.execute(
                "SELECT count(*) FROM tracking_event WHERE type = 'purchase' AND order_id = ''"
            )
            assert cursor.fetchone()[0] == 0
            indexes = connection.introspection.get_constraints(cursor, "tracking_event")
        assert first == {"page_view": "", "purchase": "o-1"}
        assert "event_purchase_order" in indexes
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_cookie_consent_migration_gives_existing_shops_their_countrys_default():
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("sites", "0004_enrolment_limits_sender_unique")])
        applied = MigrationExecutor(connection)
        old = applied._create_project_state(with_applied_migrations=True).apps
        Site = old.get_model("sites", "Site")
        for country in ("FR", "DE", "US"):
            Site.objects.create(
                name=f"Old {country}",
                public_key=f"pk_{country}",
                secret_key_hash=country * 32,
                country=country,
                time_zone="UTC",
                quiet_hours="fr_strict",
            )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([("sites", "0005_site_cookie_consent")])
        with connection.cursor() as cursor:
            cursor.execute("SELECT country, cookie_consent FROM sites_site ORDER BY country")
            assert cursor.fetchall() == [
                ("DE", "required"),
                ("FR", "required"),
                ("US", "not_required"),
            ]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_channel_migration_keeps_each_days_funnel_as_the_whole_and_as_smss_part():
    loader = MigrationLoader(connection)
    (target,) = [key for key in loader.disk_migrations if key[1].endswith("_figures_by_channel")]
    (before,) = [
        key for key in loader.disk_migrations[target].dependencies if key[0] == "campaigns"
    ]
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([before])
        old = MigrationExecutor(connection)._create_project_state(with_applied_migrations=True).apps
        Site = old.get_model("sites", "Site")
        DailyFigures = old.get_model("campaigns", "DailyFigures")
        DayMember = old.get_model("campaigns", "DayMember")
        site = Site.objects.create(
            name="Old", public_key="pk_old", secret_key_hash="x" * 64, time_zone="UTC"
        )
        for day in (date(2026, 11, 9), date(2026, 11, 10)):
            DailyFigures.objects.create(
                site=site,
                basis="abandoned",
                day=day,
                abandoned=10,
                reachable=8,
                held_out=1,
                holdout_converted=1,
                sent=7,
                messages=7,
                cost=Decimal("0.315"),
                contacts=6,
                computed_at=datetime(2026, 11, 11, tzinfo=UTC),
            )
            DayMember.objects.create(site=site, kind="messaged", day=day, member=42)
        DayMember.objects.create(site=site, kind="clicked", day=day, member=7)
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([target])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT channel, abandoned, reachable, held_out, sent, messages, contacts "
                "FROM campaigns_dailyfigures WHERE day = '2026-11-10' ORDER BY channel"
            )
            assert cursor.fetchall() == [("", 10, 8, 1, 7, 7, 6), ("sms", 0, 0, 0, 7, 7, 6)]
            cursor.execute("SELECT kind, channel FROM campaigns_daymember ORDER BY kind, channel")
            assert cursor.fetchall() == [
                ("clicked", "sms"),
                ("messaged", ""),
                ("messaged", ""),
                ("messaged", "sms"),
                ("messaged", "sms"),
            ]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_check_tells_a_label_change_from_a_type_change_on_a_busy_table():
    from django.db import migrations, models

    class Labels(migrations.Migration):
        operations = [
            migrations.AlterField(
                model_name="send",
                name="reason_detail",
                field=models.CharField(max_length=255, blank=True, verbose_name="why, in detail"),
            ),
            migrations.AlterField(
                model_name="send",
                name="reason_detail",
                field=models.CharField(max_length=300, blank=True),
            ),
        ]

    # Checked as the latest migration of campaigns: the state before it has the field as today.
    latest = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("campaigns")[0][1]
    migration = Labels(latest, "campaigns")
    assert list(problems_of("campaigns", migration)) == [
        "Alter field reason_detail on send: a type change rewrites the table under a lock"
    ]


def test_a_labels_operation_may_change_labels_only():
    from django.db import models

    def checked(field):
        class Labels(migrations.Migration):
            operations = [AlterLabels(model_name="send", fields=[("reason_detail", field)])]

        latest = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("campaigns")
        return list(problems_of("campaigns", Labels(latest[0][1], "campaigns")))

    label = models.CharField(max_length=255, blank=True, verbose_name="why, in detail")
    assert checked(label) == []
    assert checked(models.CharField(max_length=300, blank=True)) == [
        "Alter the labels of 1 fields of send: reason_detail changes more than its labels"
    ]
