"""Setting up a new shop in one step: its site, keys and default flow."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from campaigns.flows import create_default_flow
from campaigns.models import DEFAULT_DELAY_MINUTES, Flow
from retargeting.sites.models import QuietHours, Site
from retargeting.sites.services import create_site


@dataclass(frozen=True)
class BootstrappedSite:
    site: Site
    secret_key: str
    flow: Flow

    def as_json(self) -> dict[str, object]:
        """What `manage.py bootstrap_site` prints (CONTRACT.md)."""
        return {
            "site_id": self.site.pk,
            "public_key": self.site.public_key,
            "secret_key": self.secret_key,
            "flow_id": self.flow.pk,
        }


@transaction.atomic
def bootstrap_site(
    *,
    name: str,
    domains: list[str],
    country: str,
    sender: str = "",
    delay_minutes: int = DEFAULT_DELAY_MINUTES,
    quiet_hours: str = QuietHours.FR_STRICT,
    double_opt_in: bool = True,
) -> BootstrappedSite:
    """Create a site with the default policy and its default cart-abandonment flow."""
    created = create_site(
        name=name,
        domains=domains,
        country=country,
        sender=sender,
        quiet_hours=quiet_hours,
        double_opt_in=double_opt_in,
    )
    flow = create_default_flow(site=created.site, delay_minutes=delay_minutes)
    return BootstrappedSite(site=created.site, secret_key=created.secret_key, flow=flow)
