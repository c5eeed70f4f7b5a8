"""Relance's platform layer: the project package, sites (tenants), tracking and SMS gateways.

The Celery app is imported here so that `shared_task` binds to it in every process.
"""

from retargeting.celery import app as celery_app

__all__ = ("celery_app",)
