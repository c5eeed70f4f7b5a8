from __future__ import annotations

import pytest
from django.db import DatabaseError


def test_the_landing_page_tells_a_newcomer_what_to_try(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Relance" in body
    assert 'href="/admin/"' in body
    assert "bootstrap_site" in body
    assert 'href="/dev/phone/"' in body and 'href="/demo/shop/"' in body


def test_the_landing_page_only_answers_get(client):
    assert client.post("/").status_code == 405


@pytest.mark.django_db
def test_health_check_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_check_answers_503_when_the_database_does_not(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def fail(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", fail)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


@pytest.mark.django_db
def test_health_check_answers_whatever_the_host_header(client):
    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/", HTTP_HOST="10.0.0.7:8000").status_code == 400


def test_the_admin_asks_for_a_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
