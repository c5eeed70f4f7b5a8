"""The Celery app: ``celery -A retargeting.celery:app worker`` and ``... beat``.

Tasks are thin: they load ids and call plain services. The database is the schedule, so
beat only starts the dispatch pass every minute (DISPATCH_INTERVAL_SECONDS); nothing is
enqueued with a far ETA.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from celery.schedules import crontab
from celery.signals import beat_init, worker_ready
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")

app = Celery("relance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "dispatch-pass": {
        "task": "campaigns.tasks.dispatch_pass",
        "schedule": float(settings.DISPATCH_INTERVAL_SECONDS),
        # A pass that could not start before the next one is due is replaced by it.
        "options": {"expires": max(1, settings.DISPATCH_INTERVAL_SECONDS - 5)},
    },
    "ingest-events": {
        "task": "retargeting.tasks.ingest_events",
        "schedule": 1.0,
        # Each run drains until the buffer is empty; runs that could not start are dropped.
        "options": {"expires": 5},
    },
    "purge-old-events": {
        "task": "retargeting.tasks.purge_old_events",
        "schedule": crontab(hour=3, minute=10),
    },
    "erase-inactive-prospects": {
        "task": "optin.tasks.erase_inactive_prospects",
        "schedule": crontab(hour=3, minute=40),
    },
    # A STOP that Brevo's webhook did not bring (lost, or refused) comes from its list.
    "poll-provider-opt-outs": {
        "task": "retargeting.tasks.poll_provider_opt_outs",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # The dashboard reads daily rollups: the recent days are counted again every 5 minutes,
    # every day that can still change each night (campaigns.rollups says which and why).
    "roll-up-recent-figures": {
        "task": "campaigns.tasks.roll_up_recent_figures",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "roll-up-open-figures": {
        "task": "campaigns.tasks.roll_up_open_figures",
        "schedule": crontab(hour=4, minute=20),
    },
    "reconcile-sends": {
        "task": "campaigns.tasks.reconcile_sends",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
}
if str(app.conf.broker_url).startswith("filesystem://"):
    app.conf.beat_schedule["prune-embedded-broker"] = {
        "task": "retargeting.tasks.prune_embedded_broker",
        "schedule": 3600.0,
    }

# `manage.py runall` prints the URLs once its worker and beat have started (and so have said
# what they had to say at start-up): each touches the file runall names in this variable.
STARTED_FILE = "RELANCE_STARTED_FILE"


def _tell_runall(**kwargs: object) -> None:
    path = os.environ.get(STARTED_FILE)
    if path:
        Path(path).touch()


worker_ready.connect(_tell_runall, weak=False)
beat_init.connect(_tell_runall, weak=False)


@beat_init.connect
def count_figures_at_start(sender: object = None, **kwargs: object) -> None:
    """The scheduler's first five-minute run of the dashboard's rollups is five minutes after
    it starts: the days never counted (a fresh install, an imported history) are counted at
    start-up instead (today needs no rollup: the overview reads it live)."""
    app.send_task("campaigns.tasks.roll_up_recent_figures")
