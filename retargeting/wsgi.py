"""WSGI entry point: ``gunicorn retargeting.wsgi:application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")

application = get_wsgi_application()
