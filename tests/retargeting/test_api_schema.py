"""Schemathesis against /api/schema: the collector and the shop's server API, as documented.

Requests are generated from the published OpenAPI description, both fitting it (positive)
and breaking it (negative), and sent through the WSGI application with a real site's keys.
Every answer must be one the description lists, with the documented body, and never a 5xx;
an answer that refuses the request must leave the database as it was.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from optin.models import Consent, Contact
from retargeting.tracking.models import Event, Product, Visitor
from retargeting.tracking.openapi import description

EXAMPLES = 60

schema = schemathesis.openapi.from_dict(description())
schema.app = get_wsgi_application()
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
    deterministic=True,
    database="none",
)


@pytest.fixture
def shop(db):
    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield _shop()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _shop():
    from retargeting.sites.services import create_site

    created = create_site(name="Boutique", domains=["shop.example"], country="FR")
    return created


def rows():
    return (
        Event.objects.count(),
        Visitor.objects.count(),
        Contact.objects.count(),
        Consent.objects.count(),
        list(Product.objects.values_list("external_id", "available", "updated_at")),
    )


@pytest.mark.django_db
@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_documented_operation_answers_as_documented(case, shop):
    headers = {"Authorization": f"Bearer {shop.secret_key}"}
    if case.path == "/t/e":
        headers = {"Origin": "https://shop.example"}
        if isinstance(case.body, dict) and "site" in case.body:
            # Most generated batches then reach validation instead of stopping at the key.
            case.body["site"] = shop.site.public_key
    before = rows()
    # Not checked: that a request is accepted exactly when it fits the description. The
    # description cannot say everything the API checks (a number must be a mobile in the
    # site's country; a consent needs its wording) nor everything it forgives (whitespace
    # trimmed, an empty optional field read as absent). What matters is asserted below.
    response = case.call_and_validate(
        headers=headers,
        excluded_checks=[
            schemathesis.checks.negative_data_rejection,
            schemathesis.checks.positive_data_acceptance,
        ],
    )
    assert response.status_code < 500
    if response.status_code >= 400:
        assert rows() == before, f"{case.path} answered {response.status_code} but wrote"
