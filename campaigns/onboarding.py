"""Setting up a new shop in one step: its site, keys and default flow."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import getaddresses
from typing import TypedDict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext

from campaigns.email_messages import email_text_errors
from campaigns.flows import (
    DEFAULT_FLOW_SLUG,
    create_default_flow,
    default_template,
    mention_errors,
)
from campaigns.models import DEFAULT_DELAY_MINUTES, Flow, Step, StepChannel, Trigger
from campaigns.sms_text import variable_errors, worst_case_errors
from campaigns.trigger_registry import offered, trigger_room
from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.sites.models import QuietHours, Site
from retargeting.sites.services import create_site


@dataclass(frozen=True)
class BootstrappedSite:
    site: Site
    secret_key: str
    flow: Flow

    def as_json(self) -> dict[str, object]:
        """What `manage.py bootstrap_site` prints (CONTRACT.md)."""
        return {
            "site_id": self.site.pk,
            "public_key": self.site.public_key,
            "secret_key": self.secret_key,
            "flow_id": self.flow.pk,
        }


@transaction.atomic
def bootstrap_site(
    *,
    name: str,
    domains: list[str],
    country: str,
    sender: str = "",
    delay_minutes: int = DEFAULT_DELAY_MINUTES,
    quiet_hours: str = QuietHours.FR_STRICT,
    double_opt_in: bool = True,
    email_fallback: bool = False,
    email_from: str = "",
    postal_address: str = "",
) -> BootstrappedSite:
    """Create a site with the default policy and its default cart-abandonment flow (its step
    "SMS, else email" with ``email_fallback``; SMS otherwise). ``email_from``: the site's
    email sender, ``"Name <address>"`` (checked: ``ValidationError``, nothing created)."""
    sender_email = parse_email_from(email_from) if email_from else ""
    created = create_site(
        name=name,
        domains=domains,
        country=country,
        sender=sender,
        quiet_hours=quiet_hours,
        double_opt_in=double_opt_in,
    )
    if sender_email or postal_address:
        created.site.email_from, created.site.postal_address = sender_email, postal_address.strip()
        created.site.save(update_fields=["email_from", "postal_address"])
    flow = create_default_flow(
        site=created.site,
        delay_minutes=delay_minutes,
        channel=StepChannel.SMS_ELSE_EMAIL if email_fallback else StepChannel.SMS,
    )
    return BootstrappedSite(site=created.site, secret_key=created.secret_key, flow=flow)


def parse_email_from(raw: str) -> str:
    """A site's email sender, ``"Name <address>"`` or a bare address, checked and written back
    in the standard form (the address normalised), or ``ValidationError``."""
    found = getaddresses([raw.strip()])
    if len(found) != 1 or not found[0][1]:
        raise ValidationError({"email_from": f'"{raw}" is not "Name <address>".'})
    name, address = found[0]
    try:
        normalized = normalize_email(address)
    except InvalidEmail as exc:
        raise ValidationError({"email_from": f'"{address}": {exc}.'}) from exc
    if not name:
        return normalized
    local, _, domain = normalized.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


def offered_choices() -> list[tuple[str, str]]:
    """The triggers a marketer may make a flow for, with their names: exactly the registry's
    offered ones (a trigger not built is offered nowhere)."""
    labels = dict(Trigger.choices)
    return [(name, str(labels.get(name, name))) for name in offered()]


class TriggerOffer(TypedDict):
    name: str
    label: str
    delay: int
    kind: str
    sms: str
    subject: str


def trigger_offers(*, site: Site) -> list[TriggerOffer]:
    """What the pages that make a flow from a trigger show (the admin's "new flow from a
    trigger", the dashboard's "new flow"): every offered trigger with its name, default delay,
    kind, and default SMS text and email subject in the site's language, as :func:`add_flow`
    would write them."""
    offers: list[TriggerOffer] = []
    for name, label in offered_choices():
        room = trigger_room(name)
        offers.append(
            {
                "name": name,
                "label": label,
                "delay": room.default_delay_minutes,
                "kind": room.kind.value,
                "sms": default_template(site=site, trigger=name),
                "subject": room.default_texts(site.language).subject,
            }
        )
    return offers


class FlowRefused(ValueError):
    """A flow that cannot be added as asked; the message says why, in one line."""


@transaction.atomic
def add_flow(
    *,
    site: Site,
    trigger: str,
    delay_minutes: int | None = None,
    channel: str = StepChannel.SMS,
    text: str = "",
    subject: str = "",
    name: str = "",
) -> Flow:
    """An active flow of one step for ``trigger`` (``manage.py add_flow``, the admin's "new
    flow from a trigger"), sent ``delay_minutes`` after the trigger's moment (default: the
    trigger's own, ``TriggerRoom.default_delay_minutes``), with the trigger's default texts in
    the site's language where none is given, checked as the admin checks a step (its
    template and the variables its trigger fills, its opt-out mention on the site's route, the
    segment limit at its longest, an email step's subject and texts). Raises ``FlowRefused``
    (a trigger not built, a text refused), and nothing is created."""
    if trigger not in offered():
        built = ", ".join(offered())
        raise FlowRefused(
            gettext("the trigger “%(trigger)s” is not built yet: only %(built)s can be added")
            % {"trigger": trigger, "built": built}
        )
    room = trigger_room(trigger)
    texts = room.default_texts(site.language)
    if delay_minutes is None:
        delay_minutes = room.default_delay_minutes
    by_email = channel != StepChannel.SMS
    name = name.strip() or texts.name
    base = slugify(name)[:50] or DEFAULT_FLOW_SLUG
    slug, number = base, 1
    while Flow.objects.filter(site=site, slug=slug).exists():
        number += 1
        slug = f"{base}-{number}"
    flow = Flow.objects.create(site=site, name=name[:120], slug=slug, trigger=trigger)
    step = Step(
        flow=flow,
        position=1,
        delay_minutes=delay_minutes,
        template=text if text else default_template(site=site, trigger=trigger),
        channel=channel,
        subject=subject or (texts.subject if by_email else ""),
        email_template="" if text else (texts.email if by_email else ""),
    )
    try:
        step.full_clean(exclude=["flow"])
    except ValidationError as exc:
        raise FlowRefused(_one_line(exc)) from exc
    email_errors = email_text_errors(step)
    errors = [*variable_errors(step), *(e for field in email_errors.values() for e in field)]
    errors = errors or mention_errors(step, site=site) + worst_case_errors(step)
    if errors:
        raise FlowRefused(" ".join(errors))
    step.save()
    return flow


def _one_line(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items()
        )
    return " ".join(error.messages)
