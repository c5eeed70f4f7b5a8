"""Who may see which site: a user sees the sites they are a member of; superusers (the
operators of the platform) see all. Being staff only opens the admin, it widens nothing."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from retargeting.sites.models import Site


def sites_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Site]:
    """The sites ``user`` may see (none for an anonymous or inactive user)."""
    if not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    if getattr(user, "is_superuser", False):
        return Site.objects.all()
    return Site.objects.filter(memberships__user_id=user.pk).distinct()


def site_for(user: AbstractBaseUser | AnonymousUser, site_id: object) -> Site:
    """One of the user's sites; 404 (not 403) for any other, so ids reveal nothing."""
    try:
        return sites_for(user).get(pk=int(str(site_id)))
    except (ValueError, Site.DoesNotExist) as exc:
        raise Http404("no such site") from exc
