"""Celery tasks of the campaign engine: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from campaigns import dispatch


@shared_task(name="campaigns.tasks.dispatch_pass", ignore_result=True)
def dispatch_pass() -> dict[str, int]:
    """The every-minute dispatch pass (beat)."""
    return dispatch.run_pass().as_dict()
