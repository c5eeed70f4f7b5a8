"""ASGI entry point: ``uvicorn retargeting.asgi:application``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")

application = get_asgi_application()
