# Safe on a live database: no transaction around it, the columns added with a constant default
# (no table rewrite), the indexes built concurrently on PostgreSQL.

from django.db import migrations, models

from retargeting.db.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('tracking', '0003_ingest_cursor'),
    ]

    operations = [
        migrations.AddField(
            model_name='visitor',
            name='customer_id',
            field=models.CharField(blank=True, default='', help_text="The shop's own customer or guest id, as its server or platform reports it.", max_length=128, verbose_name="shop's customer id"),
        ),
        migrations.AddField(
            model_name='cart',
            name='ref',
            field=models.CharField(blank=True, default='', help_text="What the shop's platform names this cart by in its orders (WooCommerce's cart hash, Shopify's checkout token).", max_length=128, verbose_name='platform reference'),
        ),
        AddIndexConcurrently(
            model_name='visitor',
            index=models.Index(condition=models.Q(('customer_id', ''), _negated=True), fields=['site', 'customer_id'], name='visitor_customer'),
        ),
        AddIndexConcurrently(
            model_name='cart',
            index=models.Index(fields=['site', 'external_id'], name='cart_site_external_id'),
        ),
        AddIndexConcurrently(
            model_name='cart',
            index=models.Index(condition=models.Q(('ref', ''), _negated=True), fields=['site', 'ref'], name='cart_site_ref'),
        ),
    ]
