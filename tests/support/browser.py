"""A real headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.servers import missing

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium tries to reach Google's services, which this network refuses.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        missing(f"Chromium is needed at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    # Playwright runs its own event loop; Django must still accept ORM calls from the test.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


# Every element wider than its box that lets the reader scroll it sideways, and the page itself:
# at 390 px a table cut off inside a scroll box is as unreadable as a page that scrolls.
SIDEWAYS = """() => {
  const found = [];
  const root = document.documentElement;
  const wider = root.scrollWidth - root.clientWidth;
  if (wider > 1) found.push(`page: ${wider}px`);
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (!["auto", "scroll"].includes(style.overflowX)) continue;
    if (["PRE", "CODE", "TEXTAREA"].includes(el.tagName)) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className;
      found.push(`${name}: ${el.scrollWidth - el.clientWidth}px`);
    }
  }
  return found;
}"""


def sideways(page) -> list[str]:
    """What scrolls sideways on the page as shown (empty: nothing); code blocks excepted."""
    return page.evaluate(SIDEWAYS)


def log_in(page, live_server, *, username: str, password: str, then: str = "/dashboard/"):
    """Log in through the admin's login page as a member would, landing on ``then``."""
    page.goto(f"{live_server.url}/admin/login/?next={then}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{then}*")
    return page
