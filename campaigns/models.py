"""Flows and their steps, the sends they plan, and what the sends led to."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from campaigns.sms_templates import template_errors
from optin.models import Contact
from retargeting.channels import Channel
from retargeting.sites.models import Site
from retargeting.sms.phones import mask
from retargeting.tracking.models import Cart, Visitor

# A cart left this long without a change is abandoned: the first step's delay unless the
# shop chooses another (`bootstrap_site --delay-minutes`).
DEFAULT_DELAY_MINUTES = 30


class Trigger(models.TextChoices):
    """What starts a flow. Each is a room in ``campaigns.triggers`` (its planning, its exits,
    its variables, its link); ``campaigns.triggers.registry`` says which are built."""

    CART_ABANDONED = "cart_abandoned", _("Cart abandoned")
    EMAIL_CART = "email_cart", _("Cart sent by email at the shopper's request")
    """The bridge: a shopper asked for their cart in their mailbox (``email_cart``). Planned
    by that request, never by the dispatch pass; needs no marketing consent."""
    BROWSE_ABANDONED = "browse_abandoned", _("Browse abandoned")
    BACK_IN_STOCK = "back_in_stock", _("Back in stock")
    WELCOME = "welcome", _("Welcome")
    ORDER_CONFIRMATION = "order_confirmation", _("Order confirmation")
    SHIPPING_UPDATE = "shipping_update", _("Shipping update")
    REVIEW_REQUEST = "review_request", _("Review request")


class Flow(models.Model):
    """A sequence of reminders a site sends for one trigger."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="flows", verbose_name=_("site")
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    slug = models.SlugField(
        max_length=60, help_text=_("Sent as utm_campaign."), verbose_name=_("slug")
    )
    trigger = models.CharField(
        max_length=32,
        choices=Trigger.choices,
        default=Trigger.CART_ABANDONED,
        verbose_name=_("trigger"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    holdout_percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(100)],
        help_text=_(
            "Share of eligible carts that get no SMS, to measure what the SMS caused "
            "(10 is a good start)."
        ),
        verbose_name=_("holdout percent"),
    )
    min_cart_total = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "Only carts of at least this total. Where several flows match a cart, the "
            "most specific (the highest minimum) takes it."
        ),
        verbose_name=_("min cart total"),
    )
    transliterate = models.BooleanField(
        default=True,
        help_text=_(
            "Replace the characters that force the costlier UCS-2 encoding "
            "(’ « » ç ê…) with their GSM-7 look-alikes."
        ),
        verbose_name=_("transliterate"),
    )
    max_segments = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("A template whose longest rendering needs more SMS segments is refused."),
        verbose_name=_("max segments"),
    )
    link_url = models.URLField(
        max_length=2000,
        blank=True,
        default="",
        help_text=_(
            "Where the messages' link leads instead of the trigger's own page (the "
            "review request: the shop's review page). Must be on the site's domains."
        ),
        verbose_name=_("link URL"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("flow")
        verbose_name_plural = _("flows")
        constraints = [
            models.UniqueConstraint(fields=["site", "slug"], name="flow_site_slug_unique"),
            models.CheckConstraint(
                condition=Q(trigger__in=Trigger.values), name="flow_trigger_known"
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=100), name="flow_holdout_percent_range"
            ),
        ]

    # Set by the dispatch pass: the flow's steps in order, read once per pass.
    ordered_steps: list[Step]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        # The link leads where our messages may lead: the shop's own domains.
        if self.link_url and self.site_id and not self.site.owns_url(self.link_url):
            raise ValidationError({"link_url": _("The link must be on one of the site's domains.")})

    def specificity(self) -> tuple[bool, Decimal, int]:
        """Sort key: the most specific flow first, then the oldest."""
        return (self.min_cart_total is None, -(self.min_cart_total or Decimal(0)), self.pk)

    def cart_condition(self) -> Q:
        """The carts this flow is for (an empty ``Q``: every cart)."""
        if self.min_cart_total is None:
            return Q()
        return Q(total__gte=self.min_cart_total)

    def matches(self, cart: Cart) -> bool:
        return self.min_cart_total is None or cart.total >= self.min_cart_total


class DiscountMode(models.TextChoices):
    NONE = "none", _("No code")
    FIXED = "fixed", _("The same code for everyone")
    POOL = "pool", _("A unique code per SMS, from a pool")


class PoolFallback(models.TextChoices):
    """What a step whose pool of unique codes ran out does."""

    FIXED = "fixed", _("Use the fixed code")
    NO_CODE = "no_code", _("Send without a code")
    HOLD = "hold", _("Do not send")


class StepChannel(models.TextChoices):
    """How a step reaches the customer."""

    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    SMS_ELSE_EMAIL = "sms_else_email", _("SMS, else email")
    """SMS to a contact with live SMS consent and a number; otherwise email, with live email
    consent. One message per cart and step whichever goes."""


class Step(models.Model):
    """One message of a flow. The first step waits after the cart's last change, the others
    after the previous send."""

    site_path = "flow__site"  # see retargeting.sites.access

    flow = models.ForeignKey(
        Flow, on_delete=models.CASCADE, related_name="steps", verbose_name=_("flow")
    )
    position = models.PositiveSmallIntegerField(default=1, verbose_name=_("position"))
    delay_minutes = models.PositiveIntegerField(
        default=DEFAULT_DELAY_MINUTES, verbose_name=_("delay minutes")
    )
    channel = models.CharField(
        max_length=16,
        choices=StepChannel.choices,
        default=StepChannel.SMS,
        db_default=StepChannel.SMS,
        verbose_name=_("channel"),
    )
    template = models.TextField(
        blank=True,
        help_text=_(
            "The SMS text, with {{ variables }} (may be empty for an email step with its own text)."
        ),
        verbose_name=_("template"),
    )
    subject = models.CharField(
        _("email subject"),
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text=_("The email's subject, with {{ variables }} (email steps)."),
    )
    email_template = models.TextField(
        _("email text"),
        blank=True,
        default="",
        db_default="",
        help_text=_(
            "The email's message above the cart, with {{ variables }} (email steps); "
            "empty: the SMS text's words."
        ),
    )
    discount_mode = models.CharField(
        max_length=8,
        choices=DiscountMode.choices,
        default=DiscountMode.NONE,
        verbose_name=_("discount mode"),
    )
    discount_code = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("The fixed code (and the pool's fallback)."),
        verbose_name=_("discount code"),
    )
    pool_fallback = models.CharField(
        _("when the pool is empty"),
        max_length=8,
        choices=PoolFallback.choices,
        default=PoolFallback.FIXED,
    )

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["flow", "position"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "position"], name="step_flow_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=1), name="step_position_from_one"),
            models.CheckConstraint(
                condition=Q(discount_mode__in=DiscountMode.values), name="step_discount_mode_known"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=StepChannel.values), name="step_channel_known"
            ),
            models.CheckConstraint(
                condition=~Q(discount_mode="fixed") | ~Q(discount_code=""),
                name="step_fixed_discount_has_code",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow} #{self.position} (+{self.delay_minutes} min)"

    def clean(self) -> None:
        # The flow's segment limit at the text's longest needs a rendering: the admin's step
        # form checks it (campaigns.admin.StepForm), the model holds the text's own rules.
        # The variables its trigger fills are checked where the trigger's room is known
        # (sms_text.variable_errors: the admin's step form, add_flow, the editor).
        errors = template_errors(self.template)
        if errors:
            raise ValidationError({"template": errors})
        if not self.template.strip() and self.channel != StepChannel.EMAIL:
            raise ValidationError({"template": _("A step that may go by SMS needs its text.")})
        if not self.template.strip() and not self.email_template.strip():
            raise ValidationError({"email_template": _("Write the email's text.")})
        email_errors = self.email_text_errors()
        if email_errors:
            raise ValidationError(email_errors)
        if self.discount_mode == DiscountMode.FIXED and not self.discount_code:
            raise ValidationError({"discount_code": _("Give the code everyone gets.")})
        if (
            self.discount_mode == DiscountMode.POOL
            and self.pool_fallback == PoolFallback.FIXED
            and not self.discount_code
        ):
            raise ValidationError(
                {
                    "discount_code": _(
                        "Give the code used when the pool runs out, or choose another fallback."
                    )
                }
            )

    @property
    def sends_email(self) -> bool:
        """Whether the step may go by email (its email texts are then checked)."""
        return self.channel in (StepChannel.EMAIL, StepChannel.SMS_ELSE_EMAIL)

    def email_text_errors(self) -> dict[str, list[str]]:
        """The rules of an email step's own texts, by field: a subject, and both texts valid
        templates (``campaigns.email_messages.email_text_errors`` adds the checks that need
        the flows' rules)."""
        if not self.sends_email:
            return {}
        errors: dict[str, list[str]] = {}
        if not self.subject.strip():
            errors["subject"] = [str(_("An email step needs a subject."))]
        elif subject_errors := template_errors(self.subject):
            errors["subject"] = subject_errors
        if text_errors := template_errors(self.email_template):
            errors["email_template"] = text_errors
        return errors


class DiscountCode(models.Model):
    """One unique code of a step's pool, handed to one send, never twice."""

    site_path = "step__flow__site"  # see retargeting.sites.access

    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, related_name="codes", verbose_name=_("step")
    )
    code = models.CharField(max_length=64, verbose_name=_("code"))
    send = models.OneToOneField(
        "Send",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="discount",
        verbose_name=_("send"),
    )
    assigned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("assigned at"))

    class Meta:
        verbose_name = _("discount code")
        verbose_name_plural = _("discount codes")
        constraints = [
            models.UniqueConstraint(fields=["step", "code"], name="discount_code_step_unique"),
        ]
        indexes = [
            # The free codes of a step. A code once handed out stays used, even if its send
            # is deleted, so no customer ever gets a code someone else had.
            models.Index(
                fields=["step", "id"], condition=Q(assigned_at__isnull=True), name="code_free"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class SendStatus(models.TextChoices):
    """Where a send stands. It only moves forward (see campaigns.sending)."""

    PLANNED = "planned", _("Planned")
    SENDING = "sending", _("Sending")
    ACCEPTED = "accepted", _("Accepted by the provider")
    # One message's state ("Envoyé"), not a column of counts ("Envoyés").
    SENT = "sent", pgettext_lazy("one message's state", "Sent")
    DELIVERED = "delivered", pgettext_lazy("one message's state", "Delivered")
    UNDELIVERED = "undelivered", _("Undelivered")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown (reconciliation could not tell)")
    CANCELLED = "cancelled", _("Cancelled")
    DROPPED = "dropped", _("Dropped")
    HELD_OUT = "held_out", _("Held out")


class Send(models.Model):
    """One message of a journey: one step for one subject (a cart, a product view, a stock
    request, an order, a contact's confirmation), planned, then sent or not, with why.

    ``subject_id`` is the id of the subject in its trigger's table (the flow's trigger says
    which: ``campaigns.triggers``); a cart's sends also keep their cart as a key."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="sends", verbose_name=_("site")
    )
    cart = models.ForeignKey(
        Cart,
        on_delete=models.CASCADE,
        related_name="sends",
        null=True,
        blank=True,
        verbose_name=_("cart"),
    )
    # Null only on a cart's send planned by the previous release's process while a deploy
    # migrates (its cart is its subject, and (cart, step) is unique all the same).
    subject_id = models.BigIntegerField(
        null=True,
        help_text=_("The journey's subject in its trigger's table (the cart's id for carts)."),
        verbose_name=_("subject id"),
    )
    step = models.ForeignKey(
        Step, on_delete=models.PROTECT, related_name="sends", verbose_name=_("step")
    )
    # Erasure deletes a contact's sends; null only on rows kept by an erasure before it did.
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sends",
        verbose_name=_("contact"),
    )
    status = models.CharField(
        max_length=16,
        choices=SendStatus.choices,
        default=SendStatus.PLANNED,
        verbose_name=_("status"),
    )
    channel = models.CharField(
        max_length=8,
        choices=Channel.choices,
        default=Channel.SMS,
        db_default=Channel.SMS,
        help_text=_(
            "The channel it goes by: the step's, or for an SMS-else-email step the one "
            "chosen when it is rendered."
        ),
        verbose_name=_("channel"),
    )
    reason = models.CharField(
        max_length=32,
        blank=True,
        help_text=_("Why it was deferred, cancelled, dropped or held out."),
        verbose_name=_("reason"),
    )
    reason_detail = models.CharField(max_length=255, blank=True, verbose_name=_("reason detail"))
    planned_at = models.DateTimeField(verbose_name=_("planned at"))
    due_at = models.DateTimeField(verbose_name=_("due at"))
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    # The write-ahead mark: committed just before the provider is called for this claim. After
    # a crash, a send in `sending` without it never reached the provider and is sent again.
    handed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When it was handed to the provider (written before the call)."),
        verbose_name=_("handed at"),
    )
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    body = models.TextField(blank=True, verbose_name=_("body"))  # the SMS, or the email's text part
    subject = models.CharField(
        max_length=255, blank=True, default="", db_default="", verbose_name=_("subject")
    )
    segments = models.PositiveSmallIntegerField(default=0, verbose_name=_("segments"))
    encoding = models.CharField(max_length=8, blank=True, verbose_name=_("encoding"))
    cost = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_(
            "Its price (segments times SMS_PRICES for the number's country), once rendered."
        ),
        verbose_name=_("cost"),
    )
    provider_id = models.CharField(max_length=64, blank=True, verbose_name=_("provider id"))
    error_code = models.CharField(max_length=16, blank=True, verbose_name=_("error code"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("send")
        verbose_name_plural = _("sends")
        constraints = [
            # Whatever runs twice, a cart is never messaged twice for the same step.
            models.UniqueConstraint(fields=["cart", "step"], name="send_cart_step_unique"),
            # Nor any subject: a step belongs to one flow of one trigger, so (step, subject)
            # is one journey's one message.
            models.UniqueConstraint(
                fields=["step", "subject_id"],
                condition=Q(subject_id__isnull=False),
                name="send_step_subject_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SendStatus.values), name="send_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(claimed_at__isnull=False),
                name="send_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="send_channel_known"
            ),
        ]
        indexes = [
            # Every minute: what is due.
            models.Index(fields=["due_at"], condition=Q(status="planned"), name="send_due_scan"),
            # Reconciliation of sends left in `sending` by a crash.
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="send_stuck_scan"
            ),
            # The frequency cap: a contact's recent sends (per channel).
            models.Index(fields=["contact", "sent_at"], name="send_contact_recent"),
            # Status callbacks find a send by the provider's id.
            models.Index(
                fields=["provider_id"], condition=~Q(provider_id=""), name="send_provider_id"
            ),
            models.Index(fields=["site", "planned_at"], name="send_site_planned"),
            # The dashboard's rollups: what a site sent on a day.
            models.Index(fields=["site", "sent_at"], name="send_site_sent"),
        ]

    # Set by its trigger's room when a batch reads the sends' subjects (``TriggerRoom.load``):
    # the cart, view, request, order or contact the message is about.
    subject_object: Any

    def __str__(self) -> str:
        return gettext("send %(id)s (%(status)s)") % {
            "id": self.pk,
            "status": self.get_status_display(),
        }


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    """An order as the shop's server or platform reports it (``POST /api/v1/orders``, Shopify's
    ``orders/create`` and ``fulfillments/create``, WooCommerce's ``order.updated``): the
    subject of the messages after the order. Its phone and email are the ones given with the
    order: a transactional message goes there, without marketing consent."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="orders", verbose_name=_("site")
    )
    external_id = models.CharField(_("shop's order id"), max_length=128)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, verbose_name=_("status"))
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("contact"),
    )
    visitor = models.ForeignKey(
        Visitor,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("visitor"),
    )
    customer_id = models.CharField(
        max_length=128, blank=True, default="", verbose_name=_("customer id")
    )
    phone = models.CharField(_("phone (E.164)"), max_length=16, blank=True, default="")
    email = models.CharField(max_length=254, blank=True, default="", verbose_name=_("email"))
    total = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("total")
    )
    currency = models.CharField(max_length=3, blank=True, default="", verbose_name=_("currency"))
    items = models.JSONField(default=list, blank=True, verbose_name=_("items"))
    tracking_url = models.URLField(
        max_length=2000, blank=True, default="", verbose_name=_("tracking URL")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"], name="order_site_external_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_known"
            ),
        ]

    def __str__(self) -> str:
        return gettext("order %(id)s (%(status)s)") % {
            "id": self.external_id,
            "status": self.get_status_display(),
        }


class OrderUpdate(models.Model):
    """One status an order reached, once (idempotent per order and status): what starts the
    order's messages (placed or paid: the confirmation; shipped: the shipping update;
    delivered: the review request, days later). Append-only."""

    site_path = "order__site"  # see retargeting.sites.access

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="updates", verbose_name=_("order")
    )
    status = models.CharField(max_length=16, choices=OrderStatus.choices, verbose_name=_("status"))
    tracking_url = models.URLField(
        max_length=2000, blank=True, default="", verbose_name=_("tracking URL")
    )
    at = models.DateTimeField(verbose_name=_("at"))

    class Meta:
        verbose_name = _("order update")
        verbose_name_plural = _("order updates")
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "status"], name="order_update_once"),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_update_status_known"
            ),
        ]
        indexes = [
            # Each order trigger's pass reads the recent updates of its status.
            models.Index(fields=["status", "at"], name="order_update_status_time"),
        ]

    def __str__(self) -> str:
        return gettext("%(status)s at %(at)s") % {
            "status": self.get_status_display(),
            "at": f"{self.at:%Y-%m-%d %H:%M}",
        }


class StockRequest(models.Model):
    """A shopper's request to be told once when a product is back in stock, with its proof
    (the exact wording shown). A request from a browser for an address it has not proven is
    confirmed by the address's owner first (``confirmed_at``); it expires after
    ``STOCK_REQUEST_DAYS``. The back-in-stock journey's subject: one message per request."""

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="stock_requests", verbose_name=_("site")
    )
    product = models.ForeignKey(
        "tracking.Product",
        on_delete=models.CASCADE,
        related_name="stock_requests",
        verbose_name=_("product"),
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="stock_requests", verbose_name=_("contact")
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, verbose_name=_("channel"))
    visitor = models.ForeignKey(
        Visitor,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("visitor"),
    )
    text = models.TextField(_("wording shown"))
    source = models.CharField(max_length=32, verbose_name=_("source"))
    ip = models.GenericIPAddressField(_("truncated IP"), null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, verbose_name=_("user agent"))
    requested_at = models.DateTimeField(verbose_name=_("requested at"))
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When its owner proved the address (or at once)."),
        verbose_name=_("confirmed at"),
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    confirmation_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When its confirmation was claimed to be sent."),
        verbose_name=_("confirmation sent at"),
    )
    confirmation_handed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When its confirmation was handed to the provider (written before the call): "
            "one claimed but never handed over is sent again."
        ),
        verbose_name=_("confirmation handed at"),
    )

    class Meta:
        verbose_name = _("stock request")
        verbose_name_plural = _("stock requests")
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="stock_request_channel_known"
            ),
        ]
        indexes = [
            models.Index(fields=["product", "requested_at"], name="stock_request_product"),
        ]

    def __str__(self) -> str:
        return gettext("stock request %(id)s for %(product)s") % {
            "id": self.pk,
            "product": self.product_id,
        }


class EventSource(models.TextChoices):
    """Who wrote a row of a send's history."""

    PLANNER = "planner", _("Planner")
    WORKER = "worker", _("Sending worker")
    PROVIDER = "provider", _("Provider")
    RECONCILER = "reconciler", _("Reconciliation")


class SendEvent(models.Model):
    """The append-only history of a send: each status it reached and each provider callback."""

    site_path = "send__site"  # see retargeting.sites.access

    send = models.ForeignKey(
        Send, on_delete=models.CASCADE, related_name="history", verbose_name=_("send")
    )
    status = models.CharField(max_length=16, choices=SendStatus.choices, verbose_name=_("status"))
    reason = models.CharField(max_length=32, blank=True, verbose_name=_("reason"))
    detail = models.CharField(max_length=255, blank=True, verbose_name=_("detail"))
    error_code = models.CharField(max_length=16, blank=True, verbose_name=_("error code"))
    # Choices for the label only (get_source_display): no check in the table.
    source = models.CharField(
        max_length=16,
        choices=EventSource.choices,
        help_text=_(
            "Who wrote it: the planner, the sending worker, the provider or the reconciliation."
        ),
        verbose_name=_("source"),
    )
    at = models.DateTimeField(verbose_name=_("at"))

    class Meta:
        verbose_name = _("send event")
        verbose_name_plural = _("send events")
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SendStatus.values), name="send_event_status_known"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(status)s at %(at)s") % {
            "status": self.get_status_display(),
            "at": f"{self.at:%Y-%m-%d %H:%M:%S}",
        }


class ShortLink(models.Model):
    """The link in one SMS: ``PUBLIC_BASE_URL/s/CODE``."""

    site_path = "send__site"  # see retargeting.sites.access

    send = models.OneToOneField(
        Send, on_delete=models.CASCADE, related_name="short_link", verbose_name=_("send")
    )
    code = models.CharField(max_length=16, unique=True, verbose_name=_("code"))
    target_url = models.URLField(max_length=2000, verbose_name=_("target URL"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    # The first person to tap the link gets the contact token, nobody after: an SMS forwarded,
    # screenshotted or posted ties no other browser to the number.
    token_issued_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("token issued at")
    )

    class Meta:
        verbose_name = _("short link")
        verbose_name_plural = _("short links")

    def __str__(self) -> str:
        return self.code


class OptOutLink(models.Model):
    """The one-tap opt-out link in one message: ``SHORT_LINK_BASE_URL/u/CODE`` (an SMS's
    mention, an email's unsubscribe link and ``List-Unsubscribe`` header). It revokes the
    consent of its channel only. It never expires (a customer may tap it a year later);
    erasing the contact removes it."""

    site_path = "site"  # see retargeting.sites.access

    code = models.CharField(max_length=16, unique=True, verbose_name=_("code"))
    channel = models.CharField(
        max_length=8,
        choices=Channel.choices,
        default=Channel.SMS,
        db_default=Channel.SMS,
        verbose_name=_("channel"),
    )
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="opt_out_links", verbose_name=_("site")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="opt_out_links", verbose_name=_("contact")
    )
    # The send it came in; the link outlives the send (cart retention deletes sends).
    send = models.OneToOneField(
        Send,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opt_out_link",
        verbose_name=_("send"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("opt-out link")
        verbose_name_plural = _("opt-out links")

    def __str__(self) -> str:
        return self.code


class Click(models.Model):
    """A person's tap on a short link (link-preview fetchers are not recorded)."""

    site_path = "link__send__site"  # see retargeting.sites.access

    link = models.ForeignKey(
        ShortLink, on_delete=models.CASCADE, related_name="clicks", verbose_name=_("link")
    )
    at = models.DateTimeField(verbose_name=_("at"))
    ip = models.GenericIPAddressField(_("truncated IP"), null=True, blank=True)
    user_agent_class = models.CharField(
        max_length=32, blank=True, verbose_name=_("user agent class")
    )

    class Meta:
        verbose_name = _("click")
        verbose_name_plural = _("clicks")
        indexes = [models.Index(fields=["link", "at"], name="click_link_at")]

    def __str__(self) -> str:
        return gettext("click on %(link)s at %(at)s") % {
            "link": self.link,
            "at": f"{self.at:%Y-%m-%d %H:%M}",
        }


class Conversion(models.Model):
    """A purchase, and the send it is attributed to when a click led to it."""

    site_path = "site"  # see retargeting.sites.access

    class Attribution(models.TextChoices):
        CLICKED = "clicked", _("After a click")
        AFTER_DELIVERY = "after_delivery", _("After delivery, no click")
        HOLDOUT = "holdout", _("Held-out cart")
        NONE = "none", _("Not attributed")

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="conversions", verbose_name=_("site")
    )
    order_id = models.CharField(max_length=128, verbose_name=_("order id"))
    total = models.DecimalField(max_digits=12, decimal_places=2, verbose_name=_("total"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    visitor = models.ForeignKey(
        Visitor, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("visitor")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("contact")
    )
    cart = models.ForeignKey(
        Cart, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("cart")
    )
    send = models.ForeignKey(
        Send,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversions",
        verbose_name=_("send"),
    )
    attribution = models.CharField(
        max_length=16,
        choices=Attribution.choices,
        default=Attribution.NONE,
        verbose_name=_("attribution"),
    )
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))
    # Whether the figures count it: only a correction (campaigns.corrections) changes it, with
    # its audit row; the purchase itself is never edited.
    counted = models.BooleanField(
        default=True,
        # In the table too: the previous release's processes, still running while a deploy
        # migrates, record purchases without this column.
        db_default=True,
        editable=False,
        help_text=_("False once a correction excluded it."),
        verbose_name=_("counted"),
    )

    class Meta:
        verbose_name = _("conversion")
        verbose_name_plural = _("conversions")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "order_id"], name="conversion_site_order_unique"
            ),
            models.CheckConstraint(
                condition=Q(attribution__in=["clicked", "after_delivery", "holdout", "none"]),
                name="conversion_attribution_known",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="conversion_total_not_negative"),
        ]
        indexes = [models.Index(fields=["site", "occurred_at"], name="conversion_site_time")]

    def __str__(self) -> str:
        return gettext("order %(id)s") % {"id": self.order_id}


class ConversionCorrection(models.Model):
    """A conversion taken out of the figures, or counted in them again, by hand: who, when and
    why. Append-only, like the consent history; the conversion itself stays as it was."""

    site_path = "conversion__site"  # see retargeting.sites.access

    class Kind(models.TextChoices):
        EXCLUDED = "excluded", _("Excluded from the figures")
        COUNTED = "counted", _("Counted in the figures again")

    conversion = models.ForeignKey(
        Conversion,
        on_delete=models.CASCADE,
        related_name="corrections",
        verbose_name=_("conversion"),
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    reason = models.TextField(verbose_name=_("reason"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("user"),
    )
    # Who, kept when the account is deleted.
    username = models.CharField(max_length=150, verbose_name=_("username"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("conversion correction")
        verbose_name_plural = _("conversion corrections")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["excluded", "counted"]), name="correction_kind_known"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="correction_reason_given"),
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s by %(user)s at %(at)s") % {
            "kind": self.get_kind_display(),
            "user": self.username,
            "at": f"{self.created_at:%Y-%m-%d %H:%M}",
        }

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Corrections are append-only.")
        super().save(*args, **kwargs)


class MemberPhone(models.Model):
    """A mobile number a member proved is theirs (a code sent to it, typed back): the only
    numbers their test sends may go to."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="proved_phones",
        verbose_name=_("user"),
    )
    phone = models.CharField(_("phone (E.164)"), max_length=16)
    code_hash = models.CharField(max_length=64, blank=True, verbose_name=_("code hash"))
    code_sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("code sent at"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    proved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("proved at"))

    class Meta:
        verbose_name = _("member phone")
        verbose_name_plural = _("member phones")
        constraints = [
            models.UniqueConstraint(fields=["user", "phone"], name="member_phone_unique"),
        ]

    def __str__(self) -> str:
        return mask(self.phone)


class FiguresBasis(models.TextChoices):
    ABANDONED = "abandoned", _("The carts abandoned that day, followed to the end")
    ACTIVITY = "activity", _("What a step did that day")


ALL_CHANNELS = ("", _("All channels"))


class DailyFigures(models.Model):
    """The dashboard's figures of one day (in the site's time zone), rolled up by
    :mod:`campaigns.rollups` so that the overview reads a few rows, not millions.

    Two kinds of rows (``basis``):

    - **abandoned**: the carts whose last change fell on ``day``, followed to the end (the
      funnel). One row for the whole site (no flow) and one per flow: a cart is counted once
      per row, so rows add up over days but not over flows or steps (a cart with two sends).
    - **activity**: what one step did on ``day``: sends by the day they went out, taps by the
      day of the tap, revenue by the day of the purchase.

    ``contacts``, ``opt_outs`` and ``clicked`` (activity) count distinct contacts or sends
    within the day; the distinct count over a range is made exact with :class:`DayMember`.

    By channel (``channel``): activity rows are per step *and* channel (an SMS-else-email
    step has both), so they add up to the step's figures. The site's abandoned row of a day
    has ``channel=""`` (every channel: the whole funnel) and one row per channel that sent
    something to that day's carts, holding only what that channel sent and what came of it
    (their ``abandoned``, ``reachable``, ``held_out`` and ``holdout_converted`` are 0: those
    are the whole site's, read from the ``""`` row). See :mod:`campaigns.figures`.
    """

    site_path = "site"  # see retargeting.sites.access

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="daily_figures", verbose_name=_("site")
    )
    basis = models.CharField(max_length=16, choices=FiguresBasis.choices, verbose_name=_("basis"))
    flow = models.ForeignKey(
        Flow, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("flow")
    )
    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("step")
    )
    channel = models.CharField(
        max_length=8,
        choices=[ALL_CHANNELS, *Channel.choices],
        blank=True,
        default="",
        help_text=_("Empty: every channel (the whole funnel); else what that channel sent."),
        verbose_name=_("channel"),
    )
    day = models.DateField(verbose_name=_("day"))
    abandoned = models.PositiveIntegerField(default=0, verbose_name=_("abandoned"))
    reachable = models.PositiveIntegerField(default=0, verbose_name=_("reachable"))
    held_out = models.PositiveIntegerField(default=0, verbose_name=_("held out"))
    sent = models.PositiveIntegerField(default=0, verbose_name=_("sent"))
    delivered = models.PositiveIntegerField(default=0, verbose_name=_("delivered"))
    clicked = models.PositiveIntegerField(default=0, verbose_name=_("clicked"))
    taps = models.PositiveIntegerField(
        default=0, help_text=_("Clicks, not distinct."), verbose_name=_("taps")
    )
    converted = models.PositiveIntegerField(default=0, verbose_name=_("converted"))
    revenue = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal(0), verbose_name=_("revenue")
    )
    after_delivery = models.PositiveIntegerField(default=0, verbose_name=_("after delivery"))
    after_delivery_revenue = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal(0),
        verbose_name=_("after delivery revenue"),
    )
    messages = models.PositiveIntegerField(default=0, verbose_name=_("messages"))
    segments = models.PositiveIntegerField(default=0, verbose_name=_("segments"))
    cost = models.DecimalField(
        max_digits=14, decimal_places=4, default=Decimal(0), verbose_name=_("cost")
    )
    contacts = models.PositiveIntegerField(default=0, verbose_name=_("contacts"))
    opt_outs = models.PositiveIntegerField(default=0, verbose_name=_("opt-outs"))
    messaged_converted = models.PositiveIntegerField(
        default=0, verbose_name=_("messaged converted")
    )
    holdout_converted = models.PositiveIntegerField(default=0, verbose_name=_("holdout converted"))
    messaged_orders = models.PositiveIntegerField(default=0, verbose_name=_("messaged orders"))
    messaged_orders_total = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal(0), verbose_name=_("messaged orders total")
    )
    computed_at = models.DateTimeField(verbose_name=_("computed at"))

    class Meta:
        verbose_name = _("daily figures")
        verbose_name_plural = _("daily figures")
        constraints = [
            models.UniqueConstraint(
                "site",
                "basis",
                Coalesce("flow", Value(0)),
                Coalesce("step", Value(0)),
                "channel",
                "day",
                name="daily_figures_unique",
            ),
            models.CheckConstraint(
                condition=Q(basis__in=FiguresBasis.values), name="daily_figures_basis_known"
            ),
            models.CheckConstraint(
                condition=Q(basis="abandoned", step__isnull=True)
                | Q(basis="activity", step__isnull=False),
                name="daily_figures_step_by_basis",
            ),
        ]
        indexes = [models.Index(fields=["site", "basis", "day"], name="daily_figures_range")]

    def __str__(self) -> str:
        return gettext("%(basis)s %(day)s (site %(site)s)") % {
            "basis": self.basis,
            "day": self.day,
            "site": self.site_id,
        }


class MemberKind(models.TextChoices):
    MESSAGED = "messaged", _("Contact messaged (abandoned that day)")
    OPTED_OUT = "opted_out", _("Contact who opted out after a message")
    CLICKED = "clicked", _("Send tapped that day")


class DayMember(models.Model):
    """One contact (or send) counted in a day's distinct figure of :class:`DailyFigures`.

    A distinct count over several days is the sum of the days' counts less, for each member
    seen on more than one of them, its extra days. ``repeated`` marks the members seen on
    more than one day of the same row's scope: the overview reads only those (few: most
    contacts abandon one cart, most links are tapped on one day), the rest is kept so that
    the mark stays right when a later day is rolled up.
    """

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    flow = models.ForeignKey(
        Flow, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("flow")
    )
    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("step")
    )
    kind = models.CharField(max_length=16, choices=MemberKind.choices, verbose_name=_("kind"))
    channel = models.CharField(
        max_length=8,
        choices=[ALL_CHANNELS, *Channel.choices],
        blank=True,
        default="",
        help_text=_("The channel of the row it is counted in (empty: every channel)."),
        verbose_name=_("channel"),
    )
    day = models.DateField(verbose_name=_("day"))
    member = models.BigIntegerField(
        help_text=_("A contact's id, or a send's (clicked)."), verbose_name=_("member")
    )
    repeated = models.BooleanField(default=False, verbose_name=_("repeated"))

    class Meta:
        verbose_name = _("day member")
        verbose_name_plural = _("day members")
        indexes = [
            models.Index(fields=["site", "kind", "member"], name="day_member_lookup"),
            models.Index(fields=["site", "day"], name="day_member_day"),
            models.Index(
                fields=["site", "kind", "day"],
                condition=Q(repeated=True),
                name="day_member_repeated",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s %(member)s on %(day)s") % {
            "kind": self.kind,
            "member": self.member,
            "day": self.day,
        }
