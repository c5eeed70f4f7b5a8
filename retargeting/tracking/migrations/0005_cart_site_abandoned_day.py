# Safe on a live database: no transaction around it, the index built concurrently on PostgreSQL.

from django.db import migrations, models

from retargeting.db.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('tracking', '0004_customer_id_cart_ref'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='cart',
            index=models.Index(condition=models.Q(('item_count__gt', 0)), fields=['site', 'last_change_at'], name='cart_site_abandoned_day'),
        ),
    ]
