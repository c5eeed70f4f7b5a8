"""Visitors, carts and events.

The server's clock dates every row: a browser's clock is informative only.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from retargeting.sites.models import Site

# The visitor id's characters and length, matched against the whole string: with ``^…$`` and
# ``re.match`` a 64-character id followed by a newline passed, and no 64-character column
# holds it. ``\A…\Z`` for Python; ``VISITOR_ID_JSON_PATTERN`` for the OpenAPI description (an
# ECMAScript regular expression, where ``$`` is the end of the string).
VISITOR_ID_MIN, VISITOR_ID_MAX = 16, 64
_VISITOR_ID = rf"[A-Za-z0-9_-]{{{VISITOR_ID_MIN},{VISITOR_ID_MAX}}}"
VISITOR_ID_PATTERN = rf"\A{_VISITOR_ID}\Z"
VISITOR_ID_JSON_PATTERN = f"^{_VISITOR_ID}$"
validate_visitor_id = RegexValidator(VISITOR_ID_PATTERN, "16–64 characters from [A-Za-z0-9_-].")


class Visitor(models.Model):
    """A browser on a shop, known by the random first-party id the snippet keeps."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="visitors", verbose_name=_("site")
    )
    vid = models.CharField(
        _("visitor id"), max_length=VISITOR_ID_MAX, validators=[validate_visitor_id]
    )
    customer_id = models.CharField(
        _("shop's customer id"),
        max_length=128,
        blank=True,
        default="",
        help_text=_("The shop's own customer or guest id, as its server or platform reports it."),
    )
    first_seen_at = models.DateTimeField(verbose_name=_("first seen at"))
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"))

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        constraints = [
            models.UniqueConstraint(fields=["site", "vid"], name="visitor_site_vid_unique"),
        ]
        indexes = [
            # The server cart API and the platforms find a customer's browsers by their id.
            models.Index(
                fields=["site", "customer_id"],
                condition=~Q(customer_id=""),
                name="visitor_customer",
            ),
        ]

    def __str__(self) -> str:
        return self.vid


class Cart(models.Model):
    """The latest known state of a visitor's cart. A visitor has at most one open cart."""

    site_path = "site"  # see retargeting.sites.access

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONVERTED = "converted", _("Converted")
        REPLACED = "replaced", _("Replaced by a newer cart")

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="carts", verbose_name=_("site")
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="carts", verbose_name=_("visitor")
    )
    external_id = models.CharField(_("shop's cart id"), max_length=128)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, verbose_name=_("status")
    )
    currency = models.CharField(max_length=3, default="EUR", verbose_name=_("currency"))
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0, verbose_name=_("total"))
    item_count = models.PositiveIntegerField(default=0, verbose_name=_("item count"))
    items = models.JSONField(default=list, verbose_name=_("items"))
    url = models.URLField(_("restore URL"), max_length=2000, blank=True)
    ref = models.CharField(
        _("platform reference"),
        max_length=128,
        blank=True,
        default="",
        help_text=_(
            "What the shop's platform names this cart by in its orders (WooCommerce's "
            "cart hash, Shopify's checkout token)."
        ),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    # When the contents last changed: what abandonment is measured from.
    last_change_at = models.DateTimeField(verbose_name=_("last change at"))
    converted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("converted at"))

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        constraints = [
            models.UniqueConstraint(
                fields=["visitor", "external_id"], name="cart_visitor_external_id_unique"
            ),
            models.UniqueConstraint(
                fields=["visitor"], condition=Q(status="open"), name="cart_one_open_per_visitor"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "converted", "replaced"]), name="cart_status_known"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="cart_total_not_negative"),
            models.CheckConstraint(
                condition=Q(status="converted", converted_at__isnull=False)
                | (~Q(status="converted") & Q(converted_at__isnull=True)),
                name="cart_converted_has_time",
            ),
        ]
        indexes = [
            # The dispatch pass scans open carts with items by idle time, every minute.
            models.Index(
                fields=["last_change_at"],
                condition=Q(status="open", item_count__gt=0),
                name="cart_abandonment_scan",
            ),
            # The dashboard's daily rollup finds a day's abandoned carts by their last change.
            models.Index(
                fields=["site", "last_change_at"],
                condition=Q(item_count__gt=0),
                name="cart_site_abandoned_day",
            ),
            # A platform's order names its cart by the shop's cart id or the platform's ref.
            models.Index(fields=["site", "external_id"], name="cart_site_external_id"),
            models.Index(fields=["site", "ref"], condition=~Q(ref=""), name="cart_site_ref"),
        ]

    def __str__(self) -> str:
        return ngettext(
            "%(id)s (%(count)d item, %(total)s %(currency)s)",
            "%(id)s (%(count)d items, %(total)s %(currency)s)",
            self.item_count,
        ) % {
            "id": self.external_id,
            "count": self.item_count,
            "total": number_format(self.total, 2),
            "currency": self.currency,
        }


class Event(models.Model):
    """One event as received: kept for the live installation check, debugging and audits."""

    site_path = "site"  # see retargeting.sites.access

    class Type(models.TextChoices):
        PAGE_VIEW = "page_view", _("Page view")
        CART = "cart", _("Cart")
        IDENTIFY = "identify", _("Identify")
        PURCHASE = "purchase", _("Purchase")

    class Source(models.TextChoices):
        SNIPPET = "snippet", _("Snippet")
        PIXEL = "pixel", _("Pixel")
        SERVER = "server", _("Shop server API")

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="events", verbose_name=_("site")
    )
    visitor = models.ForeignKey(
        Visitor,
        on_delete=models.CASCADE,
        related_name="events",
        null=True,
        blank=True,
        verbose_name=_("visitor"),
    )
    type = models.CharField(max_length=16, choices=Type.choices, verbose_name=_("type"))
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.SNIPPET, verbose_name=_("source")
    )
    payload = models.JSONField(default=dict, verbose_name=_("payload"))
    received_at = models.DateTimeField(db_index=True, verbose_name=_("received at"))
    ip = models.GenericIPAddressField(_("truncated IP"), null=True, blank=True)
    order_id = models.CharField(
        max_length=128, blank=True, help_text=_("Purchases only."), verbose_name=_("order id")
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=["page_view", "cart", "identify", "purchase"]),
                name="event_type_known",
            ),
            models.CheckConstraint(
                condition=Q(source__in=["snippet", "pixel", "server"]), name="event_source_known"
            ),
        ]
        indexes = [
            # The installation check shows a site's latest events.
            models.Index(fields=["site", "-received_at"], name="event_site_latest"),
            # A purchase seen again (a reloaded thank-you page, the shop's server after the
            # snippet) is found by its order id and converts nothing more.
            models.Index(
                fields=["site", "order_id"],
                condition=Q(type="purchase"),
                name="event_purchase_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.received_at:%Y-%m-%d %H:%M:%S}"


class Refusal(models.Model):
    """An event the collector refused, kept a short while so that the installation page can
    show the shop why (a landline typed at checkout, a number from another country, the day's
    confirmation limit). Never what the shopper typed: the reason, the number masked as in
    the logs."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="refusals", verbose_name=_("site")
    )
    type = models.CharField(max_length=16, verbose_name=_("type"))
    source = models.CharField(max_length=16, default=Event.Source.SNIPPET, verbose_name=_("source"))
    reason = models.CharField(max_length=300, verbose_name=_("reason"))
    received_at = models.DateTimeField(verbose_name=_("received at"))

    class Meta:
        verbose_name = _("refusal")
        verbose_name_plural = _("refusals")
        indexes = [
            # The installation check shows a site's latest refusals beside its events.
            models.Index(fields=["site", "-received_at"], name="refusal_site_latest"),
            # The nightly purge finds the old ones.
            models.Index(fields=["received_at"], name="refusal_received"),
        ]

    def __str__(self) -> str:
        return gettext("%(type)s refused @ %(at)s") % {
            "type": self.type,
            "at": f"{self.received_at:%Y-%m-%d %H:%M:%S}",
        }


class IngestCursor(models.Model):
    """How far the ingest task has written one shard of the collector's buffer.

    Moved in the same transaction as the rows it wrote: an entry read again after a crash
    (written, not yet acknowledged in Redis) is recognised and not written twice.
    """

    shard = models.PositiveSmallIntegerField(unique=True, verbose_name=_("shard"))
    last_id = models.CharField(_("last stream entry written"), max_length=32, default="0-0")
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("ingest cursor")
        verbose_name_plural = _("ingest cursors")

    def __str__(self) -> str:
        return gettext("shard %(shard)s at %(position)s") % {
            "shard": self.shard,
            "position": self.last_id,
        }


class Product(models.Model):
    """A product of the shop as Relance knows it: what its pages (``product_view``), its
    server (``POST /api/v1/products``) or its platform's webhooks last said. One row per
    product, updated in place; ``restocked_at`` dates its latest change from unavailable to
    available (what back-in-stock requests wait for)."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="products", verbose_name=_("site")
    )
    external_id = models.CharField(_("shop's product id"), max_length=128)
    sku = models.CharField(max_length=128, blank=True, default="", verbose_name=_("SKU"))
    name = models.CharField(max_length=255, blank=True, default="", verbose_name=_("name"))
    url = models.URLField(_("product page"), max_length=2000, blank=True, default="")
    image = models.URLField(max_length=2000, blank=True, default="", verbose_name=_("image"))
    price = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("price")
    )
    currency = models.CharField(max_length=3, blank=True, default="", verbose_name=_("currency"))
    available = models.BooleanField(
        null=True,
        blank=True,
        help_text=_("Unknown (empty) until a page or the shop says."),
        verbose_name=_("available"),
    )
    quantity = models.IntegerField(null=True, blank=True, verbose_name=_("quantity"))
    restocked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Its latest change from unavailable to available."),
        verbose_name=_("restocked at"),
    )
    stock_changed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("stock changed at")
    )
    updated_at = models.DateTimeField(verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"], name="product_site_external_id_unique"
            ),
        ]
        indexes = [
            # Back-in-stock planning reads the products restocked lately.
            models.Index(
                fields=["restocked_at"],
                condition=Q(restocked_at__isnull=False),
                name="product_restocked",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class ProductView(models.Model):
    """A browser's views of one product on one day (the site's day, UTC-dated): one row,
    however many times the page was seen that day, with the latest time. Compact on purpose:
    a shop's millions of views a day become at most one row per browser, product and day, and
    rows older than ``PRODUCT_VIEW_RETENTION_DAYS`` are purged. A browse reminder's subject."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="product_views", verbose_name=_("visitor")
    )
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="views", verbose_name=_("product")
    )
    day = models.DateField(verbose_name=_("day"))
    viewed_at = models.DateTimeField(
        help_text=_("The latest view of that day."), verbose_name=_("viewed at")
    )

    class Meta:
        verbose_name = _("product view")
        verbose_name_plural = _("product views")
        constraints = [
            models.UniqueConstraint(
                fields=["visitor", "product", "day"], name="product_view_visitor_product_day"
            ),
        ]
        indexes = [
            # The dispatch pass scans the recent views by time, every minute; retention too.
            models.Index(fields=["viewed_at"], name="product_view_time"),
        ]

    def __str__(self) -> str:
        return gettext("view of %(product)s by %(visitor)s on %(day)s") % {
            "product": self.product_id,
            "visitor": self.visitor_id,
            "day": self.day,
        }
