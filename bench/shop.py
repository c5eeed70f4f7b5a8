"""The shop the dispatch and dashboard benchmarks fill (Django must be set up)."""

from __future__ import annotations

from campaigns.onboarding import BootstrappedSite, bootstrap_site
from retargeting.sites.models import QuietHours


def bench_shop(name: str) -> BootstrappedSite:
    """A French shop with the default flow (first reminder after 30 minutes)."""
    return bootstrap_site(
        name=name,
        domains=["shop.example"],
        country="FR",
        sender="",
        delay_minutes=30,
        quiet_hours=QuietHours.FR_STRICT,
        double_opt_in=False,
    )
