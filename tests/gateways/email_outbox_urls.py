"""The project's URLs with a List-Unsubscribe endpoint that records what it receives (for
tests/gateways/test_email_outbox.py: the mailbox's one-click button)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from retargeting.urls import urlpatterns as project

received: list[dict[str, object]] = []


@csrf_exempt
def record(request: HttpRequest, code: str) -> HttpResponse:
    received.append(
        {
            "method": request.method,
            "code": code,
            "body": request.body.decode(),
            "content_type": request.content_type,
            "cookies": dict(request.COOKIES),
            "form": dict(request.POST),
        }
    )
    return HttpResponse("You are unsubscribed.", content_type="text/plain")


urlpatterns = [path("u/<str:code>", record), *project]
