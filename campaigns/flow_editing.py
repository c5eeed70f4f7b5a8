"""What a marketer does to a flow outside its texts: activate or pause it, add a step, remove
one. Its texts and settings are saved through the admin's own forms (``campaigns.admin``'s
``StepForm`` and the models' checks), in the admin and in the dashboard alike."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from campaigns.flows import default_template
from campaigns.models import DEFAULT_DELAY_MINUTES, Flow, Step
from campaigns.trigger_registry import offered


class StepRefused(ValueError):
    """A step that cannot be added or removed; the message says why, in the marketer's words."""


def set_active(*, flow: Flow, active: bool) -> Flow:
    """Activate or pause ``flow``. A paused flow plans nothing new; what is already planned
    is dropped at send time as for any inactive flow."""
    if flow.is_active != active:
        flow.is_active = active
        flow.save(update_fields=["is_active", "updated_at"])
    return flow


@transaction.atomic
def add_step(*, flow: Flow) -> Step:
    """A new last step of ``flow``: a day after the previous one, by SMS, with the trigger's
    default text in the site's language (valid as it is; the marketer edits it). Raises
    ``StepRefused`` for a flow whose trigger is not offered (the bridge's)."""
    flow = Flow.objects.select_for_update().select_related("site").get(pk=flow.pk)
    if flow.trigger not in offered():
        # The bridge's flow is made and shaped by Relance itself (campaigns.bridge).
        raise StepRefused(_("This flow's steps are made by Relance itself: none is added."))
    last = flow.steps.aggregate(last=Max("position"))["last"] or 0
    return Step.objects.create(
        flow=flow,
        position=last + 1,
        delay_minutes=24 * 60 if last else DEFAULT_DELAY_MINUTES,
        template=default_template(site=flow.site, trigger=flow.trigger),
    )


@transaction.atomic
def remove_step(*, step: Step) -> None:
    """Remove ``step`` and close the gap in the positions. A step that sent messages stays
    (its messages and figures keep it): pause the flow instead. The last step stays too."""
    flow = Flow.objects.select_for_update().get(pk=step.flow_id)
    if step.sends.exists():
        raise StepRefused(
            _(
                "This step has sent messages: it stays, for their history and figures. "
                "Pause the flow instead."
            )
        )
    if flow.steps.count() <= 1:
        raise StepRefused(_("A flow keeps at least one step: pause the flow instead."))
    position = step.position
    step.delete()
    for later in flow.steps.filter(position__gt=position).order_by("position"):
        later.position -= 1
        later.save(update_fields=["position"])
