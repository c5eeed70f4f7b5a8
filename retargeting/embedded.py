"""The embedded mode's file-system broker: its folders and their upkeep."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings


def ensure_broker_folders() -> None:
    """Create the folders of the file-system broker (kombu does not create them)."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        if options.get(key):
            Path(str(options[key])).mkdir(parents=True, exist_ok=True)


def prune_processed_messages(*, folder: str, older_than_seconds: int) -> int:
    """Delete message files already handled by a worker; return how many were deleted."""
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in Path(folder).glob("*.msg"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
