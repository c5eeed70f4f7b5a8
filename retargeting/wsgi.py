"""WSGI entry point: ``gunicorn retargeting.wsgi:application``.

The collector's two hot endpoints are answered before Django's middleware stack
(``retargeting.tracking.fastpath``); every other path is Django's usual handler.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")

django_application = get_wsgi_application()

from retargeting.tracking.fastpath import CollectorFastPath  # noqa: E402 - needs Django set up

application = CollectorFastPath(django_application)
