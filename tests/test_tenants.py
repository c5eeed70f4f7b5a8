"""Tenants kept apart, over the whole URL configuration: a new view is covered without a new test.

Site B has a row of every model, marked with text that appears nowhere else. A member of
site A (an owner, the widest role) then requests every URL of Relance (admin included), by GET
and by POST, with B's ids wherever a URL or a form takes an id, and with ``?site=B``. Whatever
each view answers, no answer may show B's marks, and none of B's rows may change. The same is
checked for the keys of site A against the collector and the server API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from django.forms.models import model_to_dict
from django.urls import URLPattern, URLResolver, get_resolver

from campaigns.models import Conversion, DiscountCode, Flow, OptOutLink, Send, ShortLink, Step
from optin.models import Consent, Contact
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.models import Membership, Site
from retargeting.sites.services import add_member, create_site
from retargeting.tracking.models import Cart, Event, Visitor
from tests.support.tenants import rows_of

pytestmark = pytest.mark.django_db

# Public by design, and so not requested here: each serves anyone who holds B's public key or
# link code, so it shows or records B's data on purpose. Each has its own tests.
PUBLIC = {
    "short-link": "a customer's tap on B's SMS link (the code is the secret)",
    "opt-out-link": "a customer's opt-out from B's SMS (the code is the secret); see below",
    "optin-page": "B's hosted consent page, reached with B's public key",
    "collect": "the snippet on B's pages; B's public key and an Origin of B's domains",
    "pixel": "the same, without JavaScript",
    "phone": "the phone simulator of the embedded mode (404 unless DEBUG; no production use)",
    "phone-index": "the same",
}
MARKS = (
    "Zeta Boutique B",
    "Berangere-B",
    "+33699887766",
    "06 99 88 77 66",
    "flow-B-secret",
    "step-B-secret",
    "cart-B-secret",
    "CODEB-SECRET",
    "order-B-secret",
)


@pytest.fixture
def world(client):
    site_a = create_site(name="Alpha Shop A", domains=["a.example"], country="FR")
    site_b = create_site(name="Zeta Boutique B", domains=["b.example"], country="FR")
    owner = User.objects.create_user("owner-a", password="x")
    add_member(site=site_a.site, user=owner, role=Membership.Role.OWNER)
    rows_of(site_a.site, member=owner)
    rows_b = rows_of(site_b.site, member=User.objects.create_user("owner-b", password="x"))
    Contact.objects.filter(pk=rows_b[Contact].pk).update(
        first_name="Berangere-B", phone="+33699887766"
    )
    Flow.objects.filter(pk=rows_b[Flow].pk).update(name="flow-B-secret")
    Step.objects.filter(pk=rows_b[Step].pk).update(template="step-B-secret {{ link }}")
    Cart.objects.filter(pk=rows_b[Cart].pk).update(external_id="cart-B-secret")
    DiscountCode.objects.filter(step=rows_b[Step]).update(code="CODEB-SECRET")
    Conversion.objects.filter(site=site_b.site).update(order_id="order-B-secret")
    client.force_login(owner)
    return site_a, site_b, rows_b


def _patterns() -> Iterator[tuple[str, URLPattern]]:
    def walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern

    return walk(get_resolver().url_patterns)


_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")


def _admin_model(pattern: URLPattern) -> type[Model] | None:
    from django.contrib import admin

    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if (pattern.name or "").startswith(prefix):
            return model
    return None


def _values(name: str, kind: str, pattern: URLPattern, rows_b) -> list[str]:
    """B's values for one URL parameter: the row it names, else every id B has."""
    if name == "object_id":
        model = _admin_model(pattern)
        return [str(rows_b[model].pk)] if model in rows_b else []
    for model, row in rows_b.items():
        if name == f"{model._meta.model_name}_id":
            return [str(row.pk)]
    if name == "code":
        return [rows_b[ShortLink].code]
    if name == "public_key":
        return [rows_b[Site].public_key]
    if name == "number":
        return ["+33699887766"]
    if name in ("app_label",):
        return ["campaigns", "optin", "tracking", "sites", "gateways"]
    return sorted({str(row.pk) for row in rows_b.values()})


def _urls(rows_b) -> Iterator[tuple[str, str]]:
    """(URL name, concrete path) for every pattern, filled with B's values."""
    for route, pattern in _patterns():
        route = route.lstrip("^").rstrip("$")
        if route.startswith("admin/") and route.count("<") > 1:
            continue  # admin/<app_label>/... catch-alls; each model's own URLs are below
        paths = [route]
        for match in _CONVERTER.finditer(route):
            values = _values(match["name"], match["kind"] or "str", pattern, rows_b)
            paths = [p.replace(match.group(0), v, 1) for p in paths for v in values]
        for path in paths:
            if "(" in path or "\\" in path:
                continue  # a regular expression route (the admin's own views)
            yield pattern.name or route, "/" + path


def _form_of(rows_b) -> dict[str, object]:
    """A POST naming B's rows under every name a form of ours uses for them."""
    data: dict[str, object] = {"template": "x", "phone": "06 99 88 77 66", "confirmed": "yes"}
    for model, row in rows_b.items():
        data[model._meta.model_name] = row.pk
        data[f"{model._meta.model_name}_id"] = row.pk
    data["site"] = rows_b[Site].pk
    data["_selected_action"] = [row.pk for row in rows_b.values()]
    data["action"] = "erase_selected"
    return data


def _snapshot(rows_b) -> dict[str, object]:
    site = rows_b[Site]
    state: dict[str, object] = {}
    for model, row in rows_b.items():
        try:
            state[model._meta.label] = model_to_dict(model.objects.get(pk=row.pk))
        except model.DoesNotExist:
            state[model._meta.label] = "deleted"
    state["counts"] = (
        Visitor.objects.filter(site=site).count(),
        Cart.objects.filter(site=site).count(),
        Event.objects.filter(site=site).count(),
        Contact.objects.filter(site=site).count(),
        Consent.objects.filter(contact__site=site).count(),
        Send.objects.filter(step__flow__site=site).count(),
        OutboxMessage.objects.count(),
    )
    return state


def test_public_urls_named_here_exist():
    names = {pattern.name for _, pattern in _patterns()}
    assert set(PUBLIC) <= names


def test_no_url_shows_or_changes_another_sites_data(client, world):
    _, _, rows_b = world
    before = _snapshot(rows_b)
    requested = 0
    for name, path in _urls(rows_b):
        if name in PUBLIC:
            continue
        for method, url, data in (
            ("get", path, None),
            ("get", f"{path}?site={rows_b[Site].pk}", None),
            ("post", path, _form_of(rows_b)),
        ):
            response = getattr(client, method)(url, data)
            requested += 1
            body = b"".join(response) if response.streaming else response.content
            text = body.decode("utf-8", "replace")
            shown = [mark for mark in MARKS if mark in text]
            assert not shown, f"{method.upper()} {url} ({name}) shows site B's {shown}"
            assert _snapshot(rows_b) == before, f"{method} {url} ({name}) changed site B's rows"
    assert _snapshot(rows_b) == before
    # Every URL of Relance was requested; the figure is in docs/reliability.md.
    print(f"tenant sweep: {requested} requests")
    assert requested >= 3 * 100


def test_an_opt_out_code_stops_its_own_shops_messages_only(client, world):
    """``/u/CODE`` names one contact of one shop: A's code never reaches B's consent, and a
    code of B's is B's contact's alone (it shows B's page to whoever holds it, by design)."""
    site_a, _, rows_b = world
    code_a = OptOutLink.objects.get(site=site_a.site).code
    before = _snapshot(rows_b)
    for method in ("get", "head", "post"):
        response = getattr(client, method)(f"/u/{code_a}", {"site": rows_b[Site].pk})
        assert response.status_code == 200
        assert not [mark for mark in MARKS if mark.encode() in response.content]
    assert _snapshot(rows_b) == before
    assert client.get(f"/u/{rows_b[ShortLink].code}").status_code == 404  # not an opt-out code
    assert Contact.objects.get(site=site_a.site).consent_status == "revoked"


def test_site_as_keys_cannot_read_or_change_site_bs_data(client, world):
    site_a, site_b, rows_b = world
    before = _snapshot(rows_b)
    vid_b = rows_b[Visitor].vid
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {site_a.secret_key}"}
    consent = {"granted": True, "text": "J'accepte les SMS", "source": "checkout"}
    answers = [
        client.post(
            "/api/v1/identify",
            {"phone": "+33699887766", "vid": vid_b, "consent": consent},
            content_type="application/json",
            **bearer,
        ),
        client.post(
            "/api/v1/purchases",
            {"order_id": "cart-B-secret", "total": 1, "currency": "EUR", "vid": vid_b},
            content_type="application/json",
            **bearer,
        ),
        client.post(
            "/api/v1/purchases",
            {"order_id": "x", "total": 1, "currency": "EUR", "phone": "+33699887766"},
            content_type="application/json",
            **bearer,
        ),
        client.post(
            "/t/e",
            data=json.dumps(
                {
                    "site": site_a.site.public_key,
                    "vid": vid_b,
                    "events": [
                        {"type": "purchase", "order_id": "1", "total": 1, "currency": "EUR"}
                    ],
                }
            ),
            content_type="text/plain",
            HTTP_ORIGIN="https://a.example",
        ),
        # B's public key from a page of A's domain: refused.
        client.post(
            "/t/e",
            data=json.dumps(
                {
                    "site": site_b.site.public_key,
                    "vid": vid_b,
                    "events": [{"type": "page_view", "url": "https://a.example/"}],
                }
            ),
            content_type="text/plain",
            HTTP_ORIGIN="https://a.example",
        ),
    ]
    assert [a.status_code for a in answers][:4] == [200, 200, 200, 204]
    assert answers[4].status_code == 403
    # Only what A sent may come back (the identify answer repeats the number it was given).
    echoed = {"+33699887766", "cart-B-secret"}
    for answer in answers:
        assert not any(mark.encode() in answer.content for mark in set(MARKS) - echoed)
    # What A's key sent landed on A's side: a visitor of A with the same cookie value.
    assert Visitor.objects.filter(site=site_a.site, vid=vid_b).exists()
    assert _snapshot(rows_b) == before
