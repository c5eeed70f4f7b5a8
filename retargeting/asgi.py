"""ASGI entry point: ``uvicorn retargeting.asgi:application`` (docker-compose's collector).

The collector's two hot endpoints are answered in the event loop, their appends to Redis
grouped per turn (``retargeting.tracking.loop``); every other path is Django's ASGI handler.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")

django_application = get_asgi_application()

from retargeting.tracking.loop import CollectorLoop  # noqa: E402 - needs Django set up

application = CollectorLoop(django_application)
