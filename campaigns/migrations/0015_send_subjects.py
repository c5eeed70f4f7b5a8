"""Every send gets its subject: a cart's send has its cart (filled in batches, without a long
lock on the sends), then the unique (step, subject) is built without blocking writes."""

from django.db import migrations, models

from retargeting.db.migration_operations import AddUniqueConstraintConcurrently

BATCH = 5_000


def carts_are_their_sends_subjects(apps, schema_editor):
    Send = apps.get_model("campaigns", "Send")
    after = 0
    while True:
        ids = list(
            Send.objects.filter(pk__gt=after, subject_id__isnull=True, cart__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return
        after = ids[-1]
        Send.objects.filter(pk__in=ids).update(subject_id=models.F("cart_id"))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("campaigns", "0014_journeys"),
    ]

    operations = [
        migrations.RunPython(
            carts_are_their_sends_subjects, migrations.RunPython.noop, atomic=False
        ),
        AddUniqueConstraintConcurrently(
            model_name="send",
            constraint=models.UniqueConstraint(
                condition=models.Q(("subject_id__isnull", False)),
                fields=("step", "subject_id"),
                name="send_step_subject_unique",
            ),
        ),
    ]
