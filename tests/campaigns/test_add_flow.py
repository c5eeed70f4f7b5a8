"""``manage.py add_flow`` (CONTRACT.md, "Management commands"): an active flow of one step,
its ids as JSON; a trigger not built yet, or a text that fails the step's checks, refused in
one line with nothing created."""

from __future__ import annotations

import json
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.models import Flow, StepChannel, Trigger
from tests.factories import SiteFactory
from tests.support.processes import MANAGE, PYTHON, ROOT, env_for_test_database

pytestmark = pytest.mark.django_db


def add_flow(*args: str) -> dict:
    out = StringIO()
    call_command("add_flow", *args, stdout=out)
    return json.loads(out.getvalue())


def test_adds_an_active_cart_flow_with_the_sites_default_text_and_prints_its_ids():
    site = SiteFactory()
    printed = add_flow("--site", str(site.pk), "--trigger", "cart_abandoned")
    flow = Flow.objects.get(pk=printed["flow_id"])
    step = flow.steps.get()
    assert printed == {"flow_id": flow.pk, "step_id": step.pk}
    assert (flow.site, flow.trigger, flow.is_active) == (site, Trigger.CART_ABANDONED, True)
    assert (step.position, step.delay_minutes, step.channel) == (1, 30, StepChannel.SMS)
    assert "{{ link }}" in step.template
    # A second one beside it gets a slug of its own.
    again = add_flow(
        "--site",
        str(site.pk),
        "--trigger",
        "cart_abandoned",
        "--delay-minutes",
        "120",
        "--channel",
        "sms_else_email",
        "--name",
        "Second rappel",
    )
    second = Flow.objects.get(pk=again["flow_id"])
    assert (second.slug, second.name) == ("second-rappel", "Second rappel")
    second_step = second.steps.get()
    assert (second_step.delay_minutes, second_step.channel) == (120, "sms_else_email")
    assert second_step.subject  # a step that may go by email has its subject


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, MANAGE, "add_flow", *args],
        cwd=ROOT,
        env=env_for_test_database(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trigger", "back_in_stock"], "is not built yet"),
        (["--trigger", "cart_abandoned", "--text", "Votre panier {{ nope }}"], "nope"),
        (["--trigger", "cart_abandoned", "--channel", "email", "--text", "x" * 1700], "1600"),
    ],
)
def test_a_refused_flow_exits_non_zero_in_one_line_and_creates_nothing(extra, message):
    site = SiteFactory()
    result = _run("--site", str(site.pk), *extra)
    assert result.returncode != 0 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert not Flow.objects.exists()
    # Control: the same site takes the trigger that runs.
    assert _run("--site", str(site.pk), "--trigger", "cart_abandoned").returncode == 0
