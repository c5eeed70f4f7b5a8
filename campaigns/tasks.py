"""Celery tasks of the campaign engine: thin wrappers around services."""

from __future__ import annotations

from collections import Counter

from celery import shared_task

from campaigns import bridge, dispatch, rollups, sending, stock_requests
from retargeting.gateways import passes


@shared_task(name="campaigns.tasks.dispatch_pass", ignore_result=True)
def dispatch_pass() -> dict[str, int]:
    """The every-minute dispatch pass (beat): due sends go to the sms queue, in batches."""
    passes.mark_pass()  # the simulators say when the next one runs
    return dispatch.run_pass(enqueue_batch=lambda ids: deliver_sends.delay(ids)).as_dict()


@shared_task(name="campaigns.tasks.deliver_sends", acks_late=True, ignore_result=True)
def deliver_sends(send_ids: list[int]) -> dict[str, int]:
    """Send a batch of due reminders (own queue: a slow provider never holds up detection);
    what each came to, counted."""
    outcomes = sending.deliver_batch(send_ids=send_ids).values()
    return dict(Counter(outcomes))


@shared_task(name="campaigns.tasks.deliver_send", acks_late=True, ignore_result=True)
def deliver_send(send_id: int) -> str:
    """Send one due reminder (tasks enqueued one per send, before batches, still run)."""
    return sending.deliver(send_id=send_id)


@shared_task(name="campaigns.tasks.plan_cart_email", ignore_result=True)
def plan_cart_email(*, site_id: int, vid: str, email: str, attempt: int) -> bool:
    """A shopper's ``email_cart`` whose cart was not recorded yet, looked for again."""
    return bridge.plan_or_wait(site_id=site_id, vid=vid, email=email, attempt=attempt) is not None


@shared_task(name="campaigns.tasks.reconcile_sends", ignore_result=True)
def reconcile_sends() -> dict[str, int]:
    """Settle sends a crash left in ``sending`` (every 5 minutes: within 15 minutes)."""
    return sending.reconcile_stuck()


@shared_task(name="campaigns.tasks.roll_up_recent_figures", ignore_result=True)
def roll_up_recent_figures() -> dict[str, int]:
    """The dashboard's figures of the last days and of any day never rolled up (every 5
    minutes: the overview is at most that old)."""
    return rollups.roll_up_recent()


@shared_task(name="campaigns.tasks.roll_up_open_figures", ignore_result=True)
def roll_up_open_figures() -> dict[str, int]:
    """The dashboard's figures of every day that can still change (each night)."""
    return rollups.roll_up_open_days()


@shared_task(name="campaigns.tasks.send_stock_confirmation", ignore_result=True)
def send_stock_confirmation(request_id: int) -> bool:
    """The confirmation of a back-in-stock request a browser made for an address it has not
    proven (the next dispatch pass sends one whose task was lost)."""
    return stock_requests.send_request_confirmation(request_id=request_id)
