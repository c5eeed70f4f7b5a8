"""The flow editor's live preview and test sends: a step's text rendered with sample data and
at its longest, its segments and encoding, the characters that force UCS-2, what
transliteration would give, and what it costs; for a step that may go by email, the email
itself (subject, HTML and text parts). Built on the same functions as sending
(``messages.compose``, ``messages.worst_case``, ``segments.count``, ``costs.estimate``,
``email_messages.preview_email``)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.utils import translation
from django.utils.html import conditional_escape, format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from campaigns import costs
from campaigns.email_messages import email_text_errors, preview_email
from campaigns.flows import OptOutRoute, mention_errors, opt_out_route, stop_mention
from campaigns.models import DiscountMode, Flow, Step, StepChannel, Trigger
from campaigns.money import format_money
from campaigns.sms_templates import InvalidTemplate
from campaigns.sms_text import (
    CODE_LENGTH,
    compose,
    sample_opt_out_url,
    short_link_base,
    variable_errors,
    worst_case,
    worst_case_errors,
)
from campaigns.trigger_registry import rendering_room
from optin.erasure import is_blocked
from optin.models import ConsentStatus, Contact
from retargeting.gateways import INTERACTIVE_WAIT, deliver
from retargeting.gateways.base import Outcome, OutgoingSms
from retargeting.sites.models import Site
from retargeting.sms import segments
from retargeting.sms.phones import mask
from retargeting.web.ratelimit import allow

logger = logging.getLogger(__name__)
SAMPLE_CODE = "BIENVENUE10"
TEST_PREFIX = "[TEST] "
TEST_SENDS_PER_HOUR = 10


@dataclass(frozen=True)
class Rendering:
    text: str
    encoding: str
    segments: int
    characters: int
    """As the provider counts them: septets in GSM-7 (``€`` counts two), graphemes in UCS-2."""
    ucs2_characters: list[str]

    @classmethod
    def of(cls, text: str) -> Rendering:
        counted = segments.count(text)
        return cls(
            text=text,
            encoding=counted.encoding,
            segments=counted.segments,
            characters=counted.characters,
            ucs2_characters=list(counted.ucs2_characters),
        )


@dataclass(frozen=True)
class Preview:
    sample: Rendering | None
    longest: Rendering | None
    transliterated: Rendering | None
    """The sample as it would be with transliteration, when the flow has it off and it helps."""
    errors: list[str]
    max_segments: int
    cost: str
    """The longest text's price to a number of the site's country."""
    route: str
    """How customers stop the site's messages (``flows.OptOutRoute``)."""
    mention: str
    """The opt-out mention that route needs, as an SMS carries it."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def draft_step(
    *,
    site: Site,
    template: str,
    transliterate: bool,
    max_segments: int,
    discount_mode: str = DiscountMode.NONE,
    discount_code: str = "",
    step_id: int | None = None,
    channel: str = StepChannel.SMS,
    subject: str = "",
    email_template: str = "",
    trigger: str = Trigger.CART_ABANDONED,
) -> Step:
    """An unsaved step (and flow of ``trigger``) holding what the editor shows; ``step_id``
    lends its pool."""
    flow = Flow(site=site, transliterate=transliterate, max_segments=max_segments, trigger=trigger)
    return Step(
        pk=step_id,
        flow=flow,
        template=template,
        discount_mode=discount_mode,
        discount_code=discount_code,
        channel=channel,
        subject=subject,
        email_template=email_template,
    )


def sample_text(step: Step) -> str:
    """``step`` rendered for a typical customer: Marie, her trigger's typical values (a 59,90
    cart, a shirt, an order…), a code if it has one."""
    site = step.flow.site
    code = ""
    if step.discount_mode == DiscountMode.FIXED:
        code = step.discount_code
    elif step.discount_mode == DiscountMode.POOL:
        code = SAMPLE_CODE
    return compose(
        step,
        site,
        {
            **rendering_room(step.flow.trigger).sample_values(site),
            "first_name": "Marie",
            "shop": site.name,
            "link": f"{short_link_base()}/s/{'aB3dE5fG7h'[:CODE_LENGTH]}",
            "stop_link": sample_opt_out_url(),
            "discount_code": code,
        },
    )


def preview(step: Step) -> Preview:
    """Everything the editor shows under a step's text."""
    site = step.flow.site
    route = opt_out_route(site=site)
    mention = stop_mention(site=site, stop_link=sample_opt_out_url())
    errors = variable_errors(step)
    if errors:
        return Preview(None, None, None, errors, step.flow.max_segments, "", route, mention)
    try:
        sample = Rendering.of(sample_text(step))
        longest = Rendering.of(worst_case(step, site=site))
    except InvalidTemplate as exc:
        return Preview(None, None, None, exc.errors, step.flow.max_segments, "", route, mention)
    transliterated = None
    if not step.flow.transliterate and sample.encoding == segments.UCS2:
        step.flow.transliterate = True
        transliterated = Rendering.of(sample_text(step))
        step.flow.transliterate = False
    price = costs.estimate(segments=longest.segments, country=site.country)
    # In the reader's language: the cost is the marketer's figure, not the customer's text.
    reader = (translation.get_language() or site.language)[:2]
    cost = format_money(price, settings.SMS_PRICE_CURRENCY, reader)
    return Preview(
        sample,
        longest,
        transliterated,
        mention_errors(step, site=site) + worst_case_errors(step),
        step.flow.max_segments,
        cost,
        route,
        mention,
    )


@dataclass(frozen=True)
class EmailPreview:
    subject: str
    html: str
    """The HTML part, which the editor shows in sandboxed frames at desktop and phone widths."""
    text: str
    errors: list[str]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def email_preview(step: Step) -> EmailPreview | None:
    """The email ``step`` sends to a typical customer, or None for a step that never goes by
    email. With errors in its texts, the errors and no email."""
    if not step.sends_email:
        return None
    by_field = email_text_errors(step)
    errors = [error for field_errors in by_field.values() for error in field_errors]
    if variable_errors(step) and not step.email_template.strip():
        errors.append(
            _("The email's text comes from the SMS text: fix it, or write the email's own.")
        )
    if errors:
        return EmailPreview("", "", "", errors)
    code = SAMPLE_CODE if step.discount_mode == DiscountMode.POOL else step.discount_code
    try:
        email = preview_email(step, discount_code=code)
    except InvalidTemplate as exc:
        return EmailPreview("", "", "", exc.errors)
    return EmailPreview(email.subject, email.html, email.text, [])


def mention_words(shown: Preview, *, site: Site, html: bool = False) -> str:
    """Which opt-out mention the site's messages carry, and why, in a sentence (``html``: the
    mention quoted and marked in the shop's language, for a page)."""
    sender = site.effective_sender or _("the platform's default sender")
    if shown.route == OptOutRoute.REPLY:
        sentence = _("%(sender)s receives replies: customers stop by answering STOP.")
    elif shown.route == OptOutRoute.PROVIDER:
        sentence = _("Customers stop through the provider's STOP code, which it fills in.")
    else:
        sentence = _(
            "%(sender)s cannot receive replies: customers stop with the one-tap link, one per SMS."
        )
    if html:
        quoted = format_html('<q lang="{}">{}</q>', site.language, shown.mention)
        return format_html(
            "{} {}",
            capfirst(sentence % {"sender": sender}),
            format_html(
                conditional_escape(_("Opt-out mention: %(mention)s")).replace("%(mention)s", "{}"),
                quoted,
            ),
        )
    return (
        capfirst(sentence % {"sender": sender})
        + " "
        + _("Opt-out mention: %(mention)s") % {"mention": shown.mention}
    )


class TestSendRefused(Exception):
    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def refuse_stopped(*, site: Site, phone: str) -> None:
    """Raise ``TestSendRefused`` for a number that said STOP to the shop: no test, no code."""
    opted_out = Contact.objects.filter(
        site=site, phone=phone, consent_status=ConsentStatus.REVOKED
    ).exists()
    if opted_out or is_blocked(site_id=site.pk, e164=phone):
        raise TestSendRefused(_("This number said STOP to the shop: no test is sent to it."))


def send_test(*, step: Step, phone: str, user_id: int) -> str:
    """Send ``step``'s sample text, marked as a test, to ``phone`` (E.164), now, whatever the
    hour: it is no Send, so nothing counts it (figures, caps, attribution). Limited to
    ``TEST_SENDS_PER_HOUR`` per user. Returns the provider's id."""
    if not allow(key=f"test-send:{user_id}", limit=TEST_SENDS_PER_HOUR, window_seconds=3600):
        raise TestSendRefused(
            _("You sent %(count)d tests in the last hour: wait a little.")
            % {"count": TEST_SENDS_PER_HOUR},
            status=429,
        )
    site = step.flow.site
    refuse_stopped(site=site, phone=phone)
    # Within the sender's rate, shared with the reminders; a member waits a few seconds at most.
    result = deliver(
        OutgoingSms(
            to=phone,
            body=TEST_PREFIX + sample_text(step),
            sender=site.sender,
            validity_seconds=3600,
        ),
        max_wait=INTERACTIVE_WAIT,
    )
    logger.info(
        "test send of a step of site %s to %s by user %s: %s",
        site.pk,
        mask(phone),
        user_id,
        result.outcome,
    )
    if result.outcome is not Outcome.ACCEPTED:
        raise TestSendRefused(
            _("The provider did not take the message: %(reason)s")
            % {"reason": result.reason or result.error_code or result.outcome}
        )
    return result.provider_id
