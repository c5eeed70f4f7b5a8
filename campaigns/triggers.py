"""What every trigger is: the one interface the dispatch pass, the worker, the renderer and
the figures call, whatever started the journey.

A trigger says what happened (a cart left, a product viewed, a restock, a confirmation, an
order's status); channels deliver it (``retargeting.channels``). Each trigger is one module of
``campaigns`` (``cart_abandonment.py``…) behind :class:`TriggerRoom`, listed once in
``trigger_registry.py``:

- **planning**: its candidates for a flow's first step, and for each next step, each as one
  query per pass (:meth:`TriggerRoom.first_candidates`, :meth:`TriggerRoom.next_candidates`)
  whose rows are :data:`CANDIDATE_FIELDS`; the pass plans them in batches
  (``campaigns.dispatch``), one send per (step, subject) whatever runs twice;
- **at send time**: what ends the journey (:meth:`exit_reason`: bought, replaced, cancelled,
  out of stock…), whether a change of the subject starts the delay again (:meth:`restart_at`),
  how long a message stays useful (:meth:`stale_after`), its subjects read for a batch in one
  query (:meth:`load`, :meth:`refresh`);
- **rendering**: the template's variables (:attr:`variables`, :meth:`values`), the link's target
  (:meth:`link_target`), what an email shows (:meth:`email_content`);
- **its kind**: marketing or transactional, and what follows from it (:attr:`needs_consent`,
  :attr:`capped`, :attr:`hours`, :attr:`holdout`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.db.models import BigIntegerField, F, Model, Q, QuerySet, Value
from django.utils.translation import gettext as _

from campaigns.default_texts import DefaultTexts, default_texts
from campaigns.models import Trigger
from campaigns.money import format_money
from campaigns.quiet_hours import send_time
from campaigns.send_reasons import SendReason
from campaigns.sms_templates import COMMON_VARIABLES, TRIGGER_VARIABLES
from retargeting.channels import Channel
from retargeting.channels.rooms import room
from retargeting.sites.models import Language, QuietHours, Site

if TYPE_CHECKING:
    from campaigns.models import Flow, Send, Step


class Kind(enum.StrEnum):
    """Marketing messages need consent, obey the cap and the site's quiet hours; transactional
    ones (the order's own) need only the address given with the order and the flow turned on,
    skip the cap, and are held at night only. A STOP stops both."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class Hours(enum.StrEnum):
    """Which hours hold a trigger's messages."""

    MARKETING = "marketing"
    """The site's quiet hours for marketing on the channel (France: 08:00–20:00, Monday to
    Saturday, no public holidays)."""
    NIGHT = "night"
    """Held at night only (``TRANSACTIONAL_QUIET_HOURS``, default 21:00–08:00 in the
    recipient's zone), every day: the order's own messages."""
    NONE = "none"
    """Sent at once: the shopper asked for it now (the cart by email)."""


CANDIDATE_FIELDS = (
    "subject",
    "cart_ref",
    "contact_ref",
    "moment",
    "phone_ref",
    "consent_ref",
    "unreachable_ref",
)
"""The annotated columns of a candidates query, in this order: the subject's id, its cart (or
None), the contact, the moment the delay counts from, and the contact's number, SMS consent
and SMS unreachability (to choose the channel of an SMS-else-email step)."""

Candidate = tuple[int, int | None, int, datetime, str, str, datetime | None]


def candidates(
    rows: QuerySet[Any],
    *,
    subject: str = "pk",
    cart: str | None = None,
    contact: str,
    moment: str,
) -> QuerySet[Any]:
    """``rows`` annotated with :data:`CANDIDATE_FIELDS` from the paths given (``contact`` is
    the path to the contact: ``visitor__contact_link__contact``)."""
    annotated: QuerySet[Any] = rows.annotate(
        subject=F(subject),
        cart_ref=F(cart) if cart else Value(None, output_field=BigIntegerField()),
        contact_ref=F(contact),
        moment=F(moment),
        phone_ref=F(f"{contact}__phone"),
        consent_ref=F(f"{contact}__consent_status"),
        unreachable_ref=F(f"{contact}__unreachable_at"),
    )
    return annotated


ITEM_NAME_MAX = 40
"""A product's or a cart item's name is clipped to this many characters in an SMS, so that
a message's longest form is known when it is saved."""
ORDER_NUMBER_MAX = 16
"""An order's number is clipped to this many characters in an SMS."""
WORST_ITEM_NAME = "Chemise en lin lavé à manches longues, ê"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with "..." (a message's longest form is known)."""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


_WORST_TOTAL = Decimal("99999.99")


def _currency(site: Site) -> str:
    return "EUR" if site.language == Language.FR else "USD"


def sample_values(names: Sequence[str], site: Site) -> dict[str, object]:
    """Typical values of the trigger variables ``names`` for ``site``, for previews."""
    french = site.language == Language.FR
    price = format_money(Decimal("39.90"), _currency(site), site.language)
    total = format_money(Decimal("59.90"), _currency(site), site.language)
    known: dict[str, object] = {
        "cart_total": total,
        "item_name": "Chemise en lin" if french else "Linen shirt",
        "item_count": 2,
        "product_name": "Chemise en lin" if french else "Linen shirt",
        "product_price": price,
        "order_number": "1042",
        "order_total": total,
    }
    return {name: known[name] for name in names if name in known}


def worst_values(names: Sequence[str], site: Site) -> dict[str, object]:
    """The longest values of the trigger variables ``names`` for ``site``: the largest
    amounts, names and numbers at their clipped length (the segment check of a step)."""
    total = format_money(_WORST_TOTAL, _currency(site), site.language)
    known: dict[str, object] = {
        "cart_total": total,
        "item_name": WORST_ITEM_NAME,
        "item_count": 999,
        "product_name": WORST_ITEM_NAME,
        "product_price": total,
        "order_number": "#" + "9" * (ORDER_NUMBER_MAX - 1),
        "order_total": total,
    }
    return {name: known[name] for name in names if name in known}


@dataclass
class EmailContent:
    """What an email shows under its words: items (as the cart email shows them, each a dict
    with ``name``, ``price``, ``quantity``, ``url``, ``image``), a total, and the button's
    words."""

    items: list[dict[str, Any]] = field(default_factory=list)
    total: Decimal | None = None
    currency: str = ""
    item_count: int = 0


class TriggerRoom:
    """One trigger. Subclasses set the class attributes and the methods their subject needs;
    the defaults are those of a marketing trigger on the dispatch pass."""

    name: ClassVar[str]
    """The ``Trigger`` value."""
    kind: ClassVar[Kind] = Kind.MARKETING
    needs_consent: ClassVar[bool] = True
    """Live marketing consent on the channel. Without: any address given for this message
    that is not unsubscribed, unreachable or on the do-not-contact list (asked for by the
    shopper, or the order's own)."""
    capped: ClassVar[bool] = True
    """Counted in, and held by, the site's marketing frequency cap."""
    hours: ClassVar[Hours] = Hours.MARKETING
    holdout: ClassVar[bool] = True
    """Whether the flow's holdout share applies (never to what a shopper asked for, nor to
    an order's own messages)."""
    planned_by_dispatch: ClassVar[bool] = True
    """False: planned by a request (the cart by email), never by the dispatch pass."""
    offered: ClassVar[bool] = True
    """Whether a marketer may make a flow for it (the admin, the dashboard, ``add_flow``)."""
    unverified_content: ClassVar[bool] = False
    """The message carries what anyone may have written to an address anyone may have typed
    (the cart by email): links and foreign images are taken out of it."""
    default_delay_minutes: ClassVar[int] = 30
    """The first step's delay when none is given (``add_flow``, the admin's new flow)."""
    variables: ClassVar[tuple[str, ...]] = ()
    """The template variables this trigger fills (names of ``sms_templates.TRIGGER_VARIABLES``),
    beyond the common ones (first_name, shop, link, discount_code, stop, stop_link): a step's
    texts may use no other."""
    restart_reason: ClassVar[SendReason] = SendReason.CART_CHANGED
    """The ``SendReason`` a send waits again with when :meth:`restart_at` says so."""
    has_cart: ClassVar[bool] = False
    """Whether the subject is a cart (its sends keep ``Send.cart``)."""
    subject_model: ClassVar[type[Model] | None] = None
    """The table ``Send.subject_id`` points into (it has a ``site``): what the dashboard's
    search looks subjects up in."""
    subject_search: ClassVar[tuple[str, ...]] = ()
    """The subject's fields a marketer may type to find its sends in "why not sent" (the
    shop's order id, product id): ``("product__external_id",)``, ``("external_id",)``."""

    def allowed_variables(self) -> tuple[str, ...]:
        """Every variable a step of this trigger may use."""
        return COMMON_VARIABLES + self.variables

    def default_texts(self, language: str) -> DefaultTexts:
        """This trigger's default step in ``language`` (``campaigns.default_texts``, the one
        home of every trigger's texts)."""
        return default_texts(self.name, language)

    # -- planning ---------------------------------------------------------------------------

    def first_candidates(
        self, *, flow: Flow, step: Step, more_specific: Sequence[Flow], now: datetime
    ) -> QuerySet[Any] | None:
        """The subjects ``flow``'s first step should be planned for at ``now`` (its delay
        passed, no send of this flow's yet), annotated with :func:`candidates`; None: none.
        ``more_specific``: the site's flows of this trigger that come before ``flow``."""
        raise NotImplementedError

    def next_candidates(self, *, step: Step, previous: Step, now: datetime) -> QuerySet[Any] | None:
        """The subjects ``step`` should be planned for, ``previous`` having been sent to
        them at least ``step``'s delay ago; None: a trigger of one message."""
        return None

    def held(self, *, site: Site, channel: str) -> bool:
        """Whether any hours hold this trigger's messages on ``channel`` for ``site``."""
        if self.hours is Hours.NONE:
            return False
        if self.hours is Hours.NIGHT:
            # A site whose quiet hours are off (``--quiet-hours none``: a shop outside the
            # rules, a test shop, the demo) holds nothing at night either.
            return site.quiet_hours != QuietHours.NONE
        return bool(room(channel).quiet_hours_apply(site))

    def due_time(self, at: datetime, *, site: Site, phone: str, channel: str, key: str) -> datetime:
        """When a message of this trigger due at ``at`` may go to ``phone`` (spread over an
        opening by ``key``)."""
        if not self.held(site=site, channel=channel):
            return at
        return send_time(at, site=site, phone=phone, key=key, night_only=self.hours is Hours.NIGHT)

    def due(self, *, step: Step, moment: datetime, now: datetime) -> datetime:
        """When a send planned now is due, before quiet hours: the step's delay after the
        subject's moment."""
        return max(moment + timedelta(minutes=step.delay_minutes), now)

    # -- at send time -----------------------------------------------------------------------

    def load(self, sends: Sequence[Send]) -> None:
        """Read the subjects of ``sends`` (all of this trigger) in one query and keep each on
        its send (``send.subject_object``: never ``send.subject``, the email's subject line,
        which is saved with the send); a subject deleted since is None."""

    def refresh(self, sends: Sequence[Send]) -> set[int]:
        """Read again, in one query, what :meth:`exit_reason` checks of the subjects of
        ``sends`` (under the contacts' lock, just before sending); return the sends deleted
        with their subject since (nothing to write for them)."""
        self.load(sends)
        return set()

    def exit_reason(self, send: Send) -> SendReason | None:
        """Why the journey ended for this send's subject (bought, replaced, cancelled, out of
        stock…), or None. The contact's consent and address are checked apart, per channel."""
        return None

    def send_channels(self, send: Send, channels: list[Channel]) -> list[Channel]:
        """The channels among the step's (``channels``, in order of preference) this send may
        go by; a request made on one channel (a back-in-stock alert) keeps to it."""
        return channels

    def restart_at(self, send: Send) -> datetime | None:
        """A subject changed since the send was planned starts the delay again: the new due
        time, or None."""
        return None

    def moment(self, send: Send) -> datetime:
        """The moment the journey counts from (the cart's last change, the view, the
        restock, the order's status)."""
        raise NotImplementedError

    def stale_after(self, site: Site) -> timedelta:
        """How long after :meth:`moment` a message is still worth sending."""
        return timedelta(hours=site.stale_after_hours)

    def expires_at(self, send: Send) -> datetime:
        return self.moment(send) + self.stale_after(send.site)

    # -- rendering --------------------------------------------------------------------------

    def values(self, send: Send) -> dict[str, object]:
        """The template variables of this trigger for ``send`` (see :attr:`variables`)."""
        return {}

    def sample_values(self, site: Site) -> dict[str, object]:
        """Typical values of :attr:`variables`, for previews."""
        return sample_values(self.variables, site)

    def worst_values(self, site: Site) -> dict[str, object]:
        """The longest values of :attr:`variables`, for the segment check of a step's text."""
        return worst_values(self.variables, site)

    def link_target(self, send: Send) -> str:
        """Where the message's short link leads (on the shop's domains; else its home)."""
        return send.site.home_url

    def offsite_link_allowed(self, send: Send) -> bool:
        """Whether the link may lead off the shop's domains: only to a page the shop's server
        gave (a carrier's tracking page)."""
        return False

    def requester_id(self, send: Send) -> int | None:
        """The browser that asked for this message, made the owner's too when the owner taps
        its link (the cart by email); None otherwise."""
        return None

    def email_content(self, send: Send) -> EmailContent:
        """What the email shows under its words."""
        return EmailContent()

    # -- the dashboard ----------------------------------------------------------------------

    def describe(self, send: Send) -> str:
        """The send's subject in the marketer's words ("cart 123, 59,90 €", "viewed
        Chemise", "order 1001 shipped"), ``send.subject_object`` read by :meth:`load` where the
        room has one. The default names the trigger and the subject's id."""
        return describe_default(send)

    def matching(self, *, site_id: int, query: str) -> Q | None:
        """The sends of this trigger whose subject is what the marketer typed (an order id, a
        product id: :attr:`subject_search` in :attr:`subject_model`), as a condition on
        ``Send``; None: this trigger's subjects cannot be searched."""
        if self.subject_model is None or not self.subject_search:
            return None
        typed = Q()
        for path in self.subject_search:
            typed |= Q(**{path: query})
        subjects = self.subject_model._default_manager.filter(typed, site_id=site_id)
        return Q(step__flow__trigger=self.name, subject_id__in=subjects.values("pk"))


class UnbuiltTrigger(TriggerRoom):
    """What a flow of a trigger not built yet is checked and previewed with (one saved before
    it was withdrawn): any trigger variable, nothing planned, nothing sent."""

    variables = TRIGGER_VARIABLES
    offered = False
    planned_by_dispatch = False

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]

    def first_candidates(
        self, *, flow: Flow, step: Step, more_specific: Sequence[Flow], now: datetime
    ) -> QuerySet[Any] | None:
        return None


def trigger_label(name: str) -> str:
    """A trigger's name in the marketer's language: ``Trigger``'s words, translated by the
    catalogue (the code itself for a value it does not know)."""
    label = dict(Trigger.choices).get(name)
    return str(label) if label else name


def describe_default(send: Send) -> str:
    """A subject in words for any trigger, built or not: the trigger's name, and the
    subject's id ("Browse abandoned, subject 42"). Reads nothing from the database."""
    label = trigger_label(send.step.flow.trigger)
    if send.subject_id is None:
        return label
    return _("%(trigger)s, subject %(id)s") % {"trigger": label, "id": send.subject_id}
