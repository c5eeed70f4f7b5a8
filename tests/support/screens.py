"""Full-page screenshots for the docs: ``shoot(page, name, width)`` saves
``SCREENSHOT_DIR/<name>-<width>.png`` when ``SCREENSHOT_DIR`` is set (the lead keeps the
dashboard's in docs/img/dashboard/, for docs/dashboard.md), and does nothing otherwise.

    SCREENSHOT_DIR=docs/img/dashboard .venv/bin/python -m pytest tests/test_every_page_on_a_phone.py
"""

from __future__ import annotations

import os
from pathlib import Path


def shoot(page, name: str, width: int | None = None) -> Path | None:
    """Save a full-page screenshot of ``page`` as it is now (at ``width`` when given: the
    viewport is set to it first), or None when ``SCREENSHOT_DIR`` is not set."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if not folder:
        return None
    if width is not None and page.viewport_size and page.viewport_size["width"] != width:
        page.set_viewport_size({"width": width, "height": page.viewport_size["height"]})
    width = width or (page.viewport_size or {}).get("width", 0)
    path = Path(folder) / f"{name}-{width}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
