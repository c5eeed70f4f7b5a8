"""Who may see which site: a user sees the sites they are a member of; superusers (the
operators of the platform) see all. Being staff only opens the admin, it widens nothing.

Every model that belongs to a site says how to reach it with a ``site_path`` class attribute
(``"site"``, ``"flow__site"``, ``"pk"`` for the site itself); :func:`visible_to` filters any
queryset of such a model to a user's sites, and a model without one is for superusers only.
"""

from __future__ import annotations

from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from retargeting.sites.models import Site

M = TypeVar("M", bound=Model)
AnyUser = AbstractBaseUser | AnonymousUser


def sites_for(user: AnyUser) -> QuerySet[Site]:
    """The sites ``user`` may see (none for an anonymous or inactive user)."""
    if not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    if getattr(user, "is_superuser", False):
        return Site.objects.all()
    return Site.objects.filter(memberships__user_id=user.pk).distinct()


def site_for(user: AnyUser, site_id: object) -> Site:
    """One of the user's sites; 404 (not 403) for any other, so ids reveal nothing."""
    try:
        return sites_for(user).get(pk=int(str(site_id)))
    except (ValueError, Site.DoesNotExist) as exc:
        raise Http404("no such site") from exc


def site_path(model: type[Model]) -> str | None:
    """The lookup from ``model`` to its site, or None for a model that belongs to none."""
    return getattr(model, "site_path", None)


def visible_to(user: AnyUser, queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of ``queryset`` that ``user`` may see."""
    if user.is_authenticated and user.is_active and getattr(user, "is_superuser", False):
        return queryset
    path = site_path(queryset.model)
    if path is None:
        return queryset.none()
    return queryset.filter(**{f"{path}__in": sites_for(user).values("pk")})


def development_tool(request: HttpRequest, name: str) -> None:
    """Raise 404 unless ``name`` (the phone simulator, the demo shop) may be shown to this
    user: with DEBUG off only to superusers (they show every number and every message). The
    tool itself checks that the configured provider keeps messages on the machine."""
    user = getattr(request, "user", None)
    if not settings.DEBUG and not (user is not None and user.is_active and user.is_superuser):
        raise Http404(f"The {name} is a development tool.")
