"""The text of one reminder, and its short link."""

from __future__ import annotations

import logging
import re
import secrets
import string
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import opt_out
from campaigns.flows import OptOutRoute, has_stop_mention, opt_out_route, stop_mention
from campaigns.models import (
    DiscountCode,
    DiscountMode,
    OptOutLink,
    PoolFallback,
    Send,
    ShortLink,
    Step,
)
from campaigns.sms_templates import render, template_errors
from campaigns.trigger_registry import rendering_room, room_of
from campaigns.triggers import ITEM_NAME_MAX, ORDER_NUMBER_MAX, clip
from retargeting.sites.models import Site
from retargeting.sms import segments
from retargeting.sms.segments import to_gsm7

logger = logging.getLogger(__name__)
_SPACES = re.compile(r" {2,}")

_BASE62 = string.digits + string.ascii_letters
CODE_LENGTH = 10
# Longer values are clipped in the SMS, so a message's longest form is known when it is saved
# (the trigger variables' own limits: campaigns.triggers).
FIRST_NAME_MAX = 20
WORST_FIRST_NAME = "Françoise-Gwendoline"
CLIPPED = {
    "first_name": FIRST_NAME_MAX,
    "item_name": ITEM_NAME_MAX,
    "product_name": ITEM_NAME_MAX,
    "order_number": ORDER_NUMBER_MAX,
}


def short_link(send: Send) -> ShortLink:
    """The send's short link, made once: ``PUBLIC_BASE_URL/s/CODE``."""
    existing = ShortLink.objects.filter(send=send).first()
    if existing:
        return existing
    link = _new_short_link(send, now=timezone.now())
    link.save(force_insert=True)
    return link


def short_links(sends: Sequence[Send]) -> dict[int, ShortLink]:
    """The short links of ``sends`` by send id, those missing made, in two queries."""
    links = {link.send_id: link for link in ShortLink.objects.filter(send__in=list(sends))}
    now = timezone.now()
    missing = [_new_short_link(send, now=now) for send in sends if send.pk not in links]
    ShortLink.objects.bulk_create(missing)
    links.update((link.send_id, link) for link in missing)
    return links


def _new_short_link(send: Send, *, now: datetime) -> ShortLink:
    site = send.site
    # Checked again when the link is followed (a domain may have been removed since).
    target = room_of(send).link_target(send)
    return ShortLink(
        send=send,
        code="".join(secrets.choice(_BASE62) for _ in range(CODE_LENGTH)),
        target_url=target,
        created_at=now,
        expires_at=now + timedelta(days=site.link_ttl_days),
    )


def short_link_base() -> str:
    return settings.SHORT_LINK_BASE_URL or settings.PUBLIC_BASE_URL


def link_url(link: ShortLink) -> str:
    return f"{short_link_base()}/s/{link.code}"


def opt_out_url(link: OptOutLink) -> str:
    return f"{short_link_base()}/u/{link.code}"


def sample_opt_out_url() -> str:
    """An opt-out link as long as the real ones, for previews and the worst case."""
    return f"{short_link_base()}/u/{'x' * opt_out.CODE_LENGTH}"


def needs_stop_link(step: Step, site: Site) -> bool:
    """Whether a text of ``step`` carries the opt-out link: the site's route is the link, or
    the text asks for it."""
    return "stop_link" in step.template or opt_out_route(site=site) is OptOutRoute.LINK


class PoolEmpty(Exception):
    """The step's pool of unique codes ran out and its fallback is not to send."""


def discount_code_for(send: Send) -> tuple[str, str]:
    """The send's discount code, and a note when a fallback was used.

    A pool hands each send its own code, once: the code is taken in a transaction that skips
    rows other workers hold (PostgreSQL) or under SQLite's single write lock, and a send that
    is rendered again gets the code it already has.
    """
    step = send.step
    if step.discount_mode == DiscountMode.FIXED:
        return step.discount_code, ""
    if step.discount_mode != DiscountMode.POOL:
        return "", ""
    with transaction.atomic():
        mine = DiscountCode.objects.filter(send=send).values_list("code", flat=True).first()
        if mine is not None:
            return mine, ""
        free = DiscountCode.objects.filter(step=step, assigned_at__isnull=True).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            free = free.select_for_update(skip_locked=True)
        code = free.first()
        if code is not None:
            code.send, code.assigned_at = send, timezone.now()
            code.save(update_fields=["send", "assigned_at"])
            return code.code, ""
    logger.warning("step %s: the pool of discount codes is empty", step.pk)
    if step.pool_fallback == PoolFallback.HOLD:
        raise PoolEmpty
    if step.pool_fallback == PoolFallback.FIXED:
        return step.discount_code, "pool empty: the fixed code was used"
    return "", "pool empty: sent without a code"


def compose(step: Step, site: Site, values: dict[str, object]) -> str:
    """The SMS text of ``step`` with ``values``: rendered, clipped, the opt-out mention added,
    transliterated to GSM-7 when the flow asks for it."""
    stop_link = str(values.get("stop_link", ""))
    mention = stop_mention(site=site, stop_link=stop_link)
    context = {
        **values,
        **{name: clip(str(values.get(name, "")), limit) for name, limit in CLIPPED.items()},
        "stop": mention,
    }
    # An empty variable leaves no double space behind. Composed (NFC) whatever the flow: a
    # name typed with combining accents reads the same and need not cost UCS-2.
    body = unicodedata.normalize("NFC", _SPACES.sub(" ", render(step.template, context)))
    # The opt-out mention is the law: added when a template lacks one that works on the
    # site's route (a "Répondez STOP" kept from an earlier sender gets the link too).
    if not has_stop_mention(body, site=site, stop_link=stop_link):
        body = f"{body}\n{mention}"
    # Transliteration may drop a character (an emoji) and leave a double space.
    return _SPACES.sub(" ", to_gsm7(body)) if step.flow.transliterate else body


def render_body(
    send: Send, *, link: ShortLink | None = None, stop_link: OptOutLink | None = None
) -> tuple[str, str]:
    """The text of a send, and a note for its history (a discount fallback), or ``""``.

    A batch passes the links it made for all its sends at once (:func:`short_links`,
    ``opt_out.links_for``); a single send has them made here."""
    site, contact = send.site, send.contact
    code, note = discount_code_for(send)
    values = {
        **room_of(send).values(send),
        "first_name": contact.first_name if contact else "",
        "shop": site.name,
        "link": link_url(link or short_link(send)),
        "discount_code": code,
    }
    if needs_stop_link(send.step, site):
        values["stop_link"] = opt_out_url(stop_link or opt_out.link_for(send))
    return compose(send.step, site, values), note


def worst_case(step: Step, *, site: Site | None = None) -> str:
    """The longest text ``step`` can send: a long name with a ç, its trigger's longest values
    (the largest total, a long product name…), the link, the longest discount code, the
    opt-out mention at its length."""
    site = site or step.flow.site
    codes = step.codes.values_list("code", flat=True) if step.pk else []
    longest_code = max((len(code) for code in codes), default=0)
    values = {
        **rendering_room(step.flow.trigger).worst_values(site),
        "first_name": WORST_FIRST_NAME,
        "shop": site.name,
        "link": f"{short_link_base()}/s/{'x' * CODE_LENGTH}",
        "stop_link": sample_opt_out_url(),
        "discount_code": "X" * max(len(step.discount_code), longest_code, 12),
    }
    return compose(step, site, values)


def allowed_variables(step: Step) -> tuple[str, ...]:
    """The variables ``step``'s texts may use: those its flow's trigger fills."""
    return rendering_room(step.flow.trigger).allowed_variables()


def variable_errors(step: Step, text: str | None = None) -> list[str]:
    """Why ``step``'s SMS text (or ``text``: its subject, its email's words) is refused by its
    trigger: a variable the trigger does not fill, naming those it may use (empty: none)."""
    return template_errors(
        step.template if text is None else text, variables=allowed_variables(step)
    )


def worst_case_errors(step: Step) -> list[str]:
    """Why ``step`` is refused by its flow's segment limit (empty: it is not)."""
    text = worst_case(step)
    counted = segments.count(text)
    limit = step.flow.max_segments
    if counted.segments <= limit:
        return []
    values = {
        "length": len(text),
        "first_name": FIRST_NAME_MAX,
        "product": ITEM_NAME_MAX,
        "segments": counted.segments,
        "limit": limit,
        "characters": " ".join(counted.ucs2_characters),
    }
    if counted.ucs2_characters:
        message = _(
            "At its longest (%(length)d characters: a %(first_name)d-letter first name, a "
            "99 999,99 total, a %(product)d-character product name and the link) this message "
            "needs %(segments)d SMS segments in UCS-2 because of %(characters)s; the flow "
            "allows %(limit)d. Shorten it, raise the flow's limit, or turn on transliteration."
        )
    else:
        message = _(
            "At its longest (%(length)d characters: a %(first_name)d-letter first name, a "
            "99 999,99 total, a %(product)d-character product name and the link) this message "
            "needs %(segments)d SMS segments; the flow allows %(limit)d. Shorten it, raise the "
            "flow's limit, or turn on transliteration."
        )
    return [message % values]
