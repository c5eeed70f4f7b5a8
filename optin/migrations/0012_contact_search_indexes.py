"""The dashboard's contact search at a million contacts (PostgreSQL only): a number's last
digits as a prefix of the reversed number, and a first name's beginning whatever its case,
each within one shop. Built concurrently, so the contacts take writes while they build; the
embedded SQLite database (small shops) scans instead and needs neither."""

from django.db import migrations

INDEXES = {
    "contact_site_phone_suffix": (
        "(site_id, reverse((phone)::text) text_pattern_ops) WHERE phone <> ''"
    ),
    "contact_site_first_name": (
        "(site_id, upper((first_name)::text) text_pattern_ops) WHERE first_name <> ''"
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON optin_contact {definition}"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("optin", "0011_consent_recorded_by_hand")]

    operations = [migrations.RunPython(create, drop, atomic=False)]
