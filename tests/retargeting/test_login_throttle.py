"""Login attempts are throttled per username and per address, on the admin's (and so the
dashboard's) login page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from retargeting.sites import login_throttle

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/dashboard/"


@pytest.fixture
def marketer():
    return User.objects.create_user("marie", password="correct horse battery", is_staff=True)


def _try(client, password, username="marie", ip="203.0.113.9"):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, follow=False
    )


def test_the_right_password_logs_in(client, marketer):
    response = _try(client, "correct horse battery")
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_after_five_failures_even_the_right_password_is_refused(client, marketer):
    for _ in range(login_throttle.FAILURES_PER_USERNAME):
        page = _try(client, "wrong").content.decode()
        assert "Too many failed attempts" not in page
    response = _try(client, "correct horse battery")
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address does not lift a username's throttle.
    assert "Too many failed attempts" in _try(client, "x", ip="198.51.100.7").content.decode()


def test_one_address_trying_many_usernames_is_throttled(client, marketer):
    for number in range(login_throttle.FAILURES_PER_IP):
        _try(client, "guess", username=f"user{number}")
    page = _try(client, "correct horse battery").content.decode()
    assert "Too many failed attempts" in page
    # The same user from elsewhere still logs in.
    assert _try(client, "correct horse battery", ip="198.51.100.7").status_code == 302


def test_a_success_clears_the_usernames_count(client, marketer):
    for _ in range(login_throttle.FAILURES_PER_USERNAME - 1):
        _try(client, "wrong")
    assert _try(client, "correct horse battery").status_code == 302
    client.logout()
    for _ in range(login_throttle.FAILURES_PER_USERNAME - 1):
        _try(client, "wrong")
    assert _try(client, "correct horse battery").status_code == 302
