"""Security settings: the deployment check, HTTPS headers, the dashboard's CSP, CSRF."""

from __future__ import annotations

import json
import subprocess
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from retargeting.web.security import POLICY
from tests.support.processes import MANAGE, PRODUCTION, PYTHON, ROOT, base_env, run_python

# Answered without a CSRF token, on purpose: the snippet posts from the shops' pages (no
# cookie, Origin checked against the site's domains), the server API authenticates with the
# secret key, the provider's webhooks with their signature. The pixel takes GET only and
# answers any other method 405 (tested in tests/retargeting/test_collector.py).
CSRF_EXEMPT = {
    "collect",
    "api-identify",
    "api-purchases",
    "api-carts",
    "api-products",
    "api-orders",
    "api-back-in-stock",
    # Shopify and WooCommerce sign each delivery with the shop's secret (tests/platforms).
    "platform-webhook",
    "twilio-inbound",
    "twilio-status",
    # Brevo signs nothing: the secret of ours in its URL authenticates it (tests/gateways).
    "brevo-sms",
    "pixel",
    # A reminded cart's contents for the snippet's restore call: GET only, any other method
    # 405 (tests/retargeting/test_restore.py).
    "restore-cart",
    # An email's one-click unsubscribe (RFC 8058) comes with no cookie and no token: the view
    # makes Django's CSRF check itself for every other POST (tests/campaigns/test_opt_out.py,
    # test_one_click_unsubscribe.py).
    "opt-out-link",
    # Brevo's email tracking webhook: basic auth, verified as anymail verifies it
    # (tests/gateways/test_email_webhooks.py).
    "email-brevo-tracking",
}


@pytest.mark.slow
def test_the_deployment_check_is_clean_with_production_settings():
    env = base_env(**PRODUCTION)
    # The browser tests of this session allow Django's ORM from Playwright's event loop; a
    # production process never does (the check refuses it, rightly).
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    done = subprocess.run(
        [PYTHON, MANAGE, "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
# Production serves hashed static files collected at build time; none here.
settings.STORAGES["staticfiles"] = {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
client = Client(HTTP_HOST="relance.example")
plain = client.get("/admin/login/")
https = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "https": https.status_code,
    "headers": dict(https.headers),
    "cookies": {name: dict(morsel) for name, morsel in https.cookies.items()},
}))
"""


@pytest.mark.slow
def test_behind_a_tls_proxy_production_sends_hsts_secure_cookies_and_its_policy(tmp_path):
    env = base_env(**PRODUCTION, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    done = run_python(PROBE, env)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # Plain http is sent to https; what the proxy says came over https is served.
    assert seen["plain"] == [301, "https://relance.example/admin/login/"]
    assert seen["https"] == 200
    headers = seen["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=2592000; includeSubDomains"
    assert headers["Content-Security-Policy"] == POLICY
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    csrf = seen["cookies"]["csrftoken"]
    assert csrf["secure"] is True and csrf["samesite"] == "Lax"


def test_the_policy_forbids_inline_and_foreign_scripts_and_framing():
    directives = dict(part.split(" ", 1) for part in POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/dashboard/", "/dashboard/sends/", "/dashboard/install/", "/admin/", "/"]
)
def test_relances_pages_carry_the_policy(admin_client, site, path):
    response = admin_client.get(path, follow=True)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == POLICY


@pytest.mark.django_db
def test_the_hosted_opt_in_page_carries_the_policy(client, site):
    response = client.get(f"/o/{site.public_key}/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == POLICY


@pytest.mark.django_db
def test_the_demo_shop_stands_for_a_shops_page_and_keeps_its_own_scripts(
    client, settings, development_mode
):
    call_command("demo", stdout=StringIO())
    response = client.get("/demo/shop/")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response


def _named_views():
    """(name, view) of every named URL of the URL configuration, however deep."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                namespace = f"{pattern.namespace}:" if pattern.namespace else ""
                yield from walk(pattern.url_patterns, prefix + namespace)
            elif isinstance(pattern, URLPattern):
                yield prefix + (pattern.name or repr(pattern.pattern)), pattern.callback

    return list(walk(get_resolver().url_patterns))


def test_only_the_collector_the_server_api_and_the_signed_webhooks_skip_csrf():
    exempt = {name for name, view in _named_views() if getattr(view, "csrf_exempt", False)}
    assert exempt == CSRF_EXEMPT


@pytest.mark.django_db
def test_every_other_url_refuses_a_post_without_a_csrf_token(site):
    """Generated from the URL configuration: a new view is covered without a new test."""
    user = User.objects.create_superuser("root", password="pass-word-123")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    resolver = get_resolver()
    checked = 0
    for name, _view in _named_views():
        if name in CSRF_EXEMPT or ":" in name:
            continue
        pattern = resolver.reverse_dict.getlist(name)
        if not pattern:
            continue
        path = "/" + pattern[0][0][0][0] % {
            key: "1" if key.endswith("_id") else "x" for key in pattern[0][0][0][1]
        }
        response = client.post(path, data={"a": "b"})
        assert response.status_code == 403, (name, path, response.status_code)
        checked += 1
    assert checked >= 20
    # The admin's pages too (a sample: the ones that change things).
    for path in ("/admin/sites/site/add/", "/admin/campaigns/flow/add/", "/admin/logout/"):
        assert client.post(path, data={"a": "b"}).status_code == 403, path
