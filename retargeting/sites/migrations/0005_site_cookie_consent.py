from django.db import migrations, models

from retargeting.sites.cookie_consent import EEA


def from_country(apps, schema_editor):
    """Existing shops get their country's default: consent required in the EU and the EEA.
    The sites table is small (one row a shop): one UPDATE each way."""
    Site = apps.get_model("sites", "Site")
    Site.objects.filter(country__in=EEA).update(cookie_consent="required")
    Site.objects.exclude(country__in=EEA).update(cookie_consent="not_required")


class Migration(migrations.Migration):

    dependencies = [
        ("sites", "0004_enrolment_limits_sender_unique"),
    ]

    operations = [
        migrations.AddField(
            model_name="site",
            name="cookie_consent",
            field=models.CharField(
                blank=True,
                choices=[
                    ("required", "Required: nothing is stored or sent before the visitor consents"),
                    ("not_required", "Not required"),
                ],
                default="required",
                help_text="Whether the snippet waits for the visitor's cookie consent (the tag's "
                'data-consent="required"). Empty: from the country, required in the EU and the EEA.',
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(from_country, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="site",
            constraint=models.CheckConstraint(
                condition=models.Q(("cookie_consent__in", ["", "required", "not_required"])),
                name="site_cookie_consent_known",
            ),
        ),
    ]
