"""The snippet's cost on a shop's page, in a real headless Chromium (Debian's package).

The same product page is loaded ROUNDS times with the tag and ROUNDS times without it, each
time twice in a fresh browser context: a new visitor's first page (nothing cached, the visitor
id created and mirrored) and their next page (the cookie set). After the load event the
page fires `pagehide`, so the snippet also sends what it queued (the page view and a cart).
Chromium's own counters (DevTools' `Performance.getMetrics`: time spent running scripts and
main-thread tasks) are read for each load; the snippet's cost is the difference of the medians.
The cost of one `relance.push(["cart", …])` call is timed in the page with `performance.now()`,
its share of sending included (a batch leaves every 20 calls).

Called by bench/run.py while its server runs; needs Playwright from PyPI and /usr/bin/chromium.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

ROUNDS = int(os.environ.get("BENCH_SNIPPET_ROUNDS", "15"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CART = (
    '{"id": "bench-cart", "currency": "EUR", "total": 59.9,'
    ' "url": location.origin + "/panier?restore=1",'
    ' "items": [{"sku": "A1", "name": "Chemise", "price": 29.95, "quantity": 2}]}'
)
PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Chemise en lin</title>{tag}</head>
<body><h1>Chemise en lin</h1>
{paragraphs}
<button id="add">Ajouter au panier</button>
<script>
new PerformanceObserver(function (list) {{
  window.longTasks = (window.longTasks || 0) + list.getEntries().length;
}}).observe({{type: "longtask", buffered: true}});
{call}
</script></body></html>"""
TAG = (
    '<script async src="{base}/t.js" data-site="{key}"></script>'
    "<script>window.relance = window.relance || [];</script>"
)
PUSHES = """() => {
  const cart = CART;
  const started = performance.now();
  for (let i = 0; i < 200; i++) { cart.total = 59.9 + i; relance.push(["cart", cart]); }
  return (performance.now() - started) / 200;
}""".replace("CART", CART)


def page_html(base: str, key: str, with_snippet: bool) -> str:
    paragraphs = "\n".join(
        f"<p>Lin lavé, coupe droite, boutons en corozo. Paragraphe {n}.</p>" for n in range(40)
    )
    return PAGE.format(
        tag=TAG.format(base=base, key=key) if with_snippet else "",
        paragraphs=paragraphs,
        call=f'relance.push(["cart", {CART}]);' if with_snippet else "",
    )


def measure(base: str, key: str, rounds: int = ROUNDS, browser: Any = None) -> dict[str, Any]:
    """Figures for bench/run.py (which checks first that CHROMIUM exists); in `browser`, a
    Playwright Chromium already started, or in one of its own."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        from tests.support.browser import ARGS

        with sync_playwright() as playwright:
            own = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                return measure(base, key, rounds, own)
            finally:
                own.close()

    # samples[(with_snippet, visit)]: visit is "first" (a new visitor) or "next" (cookie set)
    samples: dict[tuple[bool, str], list[dict[str, float]]] = {}
    push_ms: list[float] = []
    for round_ in range(rounds):
        for with_snippet in (round_ % 2 == 0, round_ % 2 == 1):
            context = browser.new_context()
            try:
                for visit in ("first", "next"):
                    sample = load(context, base, key, with_snippet, push_ms)
                    samples.setdefault((with_snippet, visit), []).append(sample)
            finally:
                context.close()

    def median(with_snippet: bool, visit: str, metric: str) -> float:
        return statistics.median(sample[metric] for sample in samples[(with_snippet, visit)])

    figures: dict[str, Any] = {"snippet_rounds": rounds}
    for visit in ("first", "next"):
        for metric, name in (("TaskDuration", "main_thread"), ("ScriptDuration", "script")):
            with_ms, without_ms = median(True, visit, metric), median(False, visit, metric)
            figures[f"page_{name}_ms_{visit}_visit_with_snippet"] = round(with_ms, 2)
            figures[f"page_{name}_ms_{visit}_visit_without"] = round(without_ms, 2)
            figures[f"snippet_{name}_ms_{visit}_visit"] = round(with_ms - without_ms, 2)
    figures["snippet_long_tasks"] = max(
        sample["longTasks"] for visit in ("first", "next") for sample in samples[(True, visit)]
    )
    figures["snippet_push_us"] = round(statistics.median(push_ms) * 1000, 1)
    return figures


def load(
    context: Any, base: str, key: str, with_snippet: bool, push_ms: list[float]
) -> dict[str, float]:
    """One page load in its own tab; Chromium's counters for that tab."""
    page = context.new_page()
    try:
        html = page_html(base, key, with_snippet)
        url = f"{base}/bench/shop/{'with' if with_snippet else 'without'}"
        page.route(
            url, lambda route: route.fulfill(status=200, content_type="text/html", body=html)
        )
        devtools = context.new_cdp_session(page)
        devtools.send("Performance.enable")
        page.goto(url, wait_until="load")
        hide = "() => { window.dispatchEvent(new Event('pagehide')); }"
        if with_snippet:
            # The snippet sends what it queued (the page view, the cart) as the page hides;
            # that request is waited for: closing the tab and its context at once could
            # cancel it, and a page view would be missing from what the run recorded.
            with page.expect_request_finished(lambda request: request.url.endswith("/t/e")):
                page.evaluate(hide)
        else:
            page.evaluate(hide)
        metrics = {
            m["name"]: m["value"] for m in devtools.send("Performance.getMetrics")["metrics"]
        }
        sample = {
            "ScriptDuration": metrics["ScriptDuration"] * 1000,
            "TaskDuration": metrics["TaskDuration"] * 1000,
            "longTasks": float(page.evaluate("() => window.longTasks || 0")),
        }
        if with_snippet:
            push_ms.append(float(page.evaluate(PUSHES)))
        return sample
    finally:
        page.close()
