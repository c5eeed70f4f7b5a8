"""The admin, per site: a marketer's lists, forms, filters, choices and object pages show only
the rows of the sites they are a member of (``retargeting.sites.access``); any other object is
a 404.
Models that belong to no site (raw provider messages) are for superusers only.

Every ``ModelAdmin`` and inline of Relance derives from :class:`SiteScopedAdmin` or
:class:`SiteScopedInline`; a test walks the admin registry to hold every one to it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db import models
from django.db.models import Model, QuerySet
from django.db.models.fields.related import ForeignKey, ManyToManyField
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from retargeting.sites.access import site_path, sites_for, visible_to


def site_filter(lookup: str) -> type[admin.SimpleListFilter]:
    """A list filter on ``lookup`` (``site``, ``flow__site``) offering only the user's sites."""

    class SiteFilter(admin.SimpleListFilter):
        title = _("site")
        parameter_name = lookup

        def lookups(
            self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
        ) -> list[tuple[Any, str]]:
            return [(site.pk, site.name) for site in sites_for(request.user).order_by("name")]

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            value = self.value()
            if value is None:
                return queryset
            if not str(value).isdigit():
                return queryset.none()
            return queryset.filter(**{lookup: int(str(value))})

    return SiteFilter


class _Scoped:
    """What lists and inlines share: the rows and the choices a user may see."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return visible_to(request.user, super().get_queryset(request))  # type: ignore[misc]

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        field: ModelChoiceField[Any] | None = super().formfield_for_foreignkey(  # type: ignore[misc]
            db_field, request, **kwargs
        )
        if field is not None and field.queryset is not None:
            field.queryset = visible_to(request.user, field.queryset)
        return field

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField[Any] | None:
        field: ModelMultipleChoiceField[Any] | None = super().formfield_for_manytomany(  # type: ignore[misc]
            db_field, request, **kwargs
        )
        if field is not None and field.queryset is not None:
            field.queryset = visible_to(request.user, field.queryset)
        return field


class SiteScopedAdmin(_Scoped, admin.ModelAdmin):
    """A ``ModelAdmin`` that shows a marketer only their sites' rows."""

    # An address typed without a scheme (a shop's cart page) is an https one.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_module_permission(self, request: HttpRequest) -> bool:
        if site_path(self.model) is None and not request.user.is_superuser:
            return False
        return super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if site_path(self.model) is None and not request.user.is_superuser:
            return False
        return super().has_view_permission(request, obj)

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [
            site_filter(entry)
            if isinstance(entry, str) and (entry == "site" or entry.endswith("__site"))
            else entry
            for entry in super().get_list_filter(request)
        ]

    def object_or_404(self, request: HttpRequest, object_id: str) -> Model:
        """The object if the user may see it; otherwise 404, whether or not it exists."""
        obj: Model | None = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("No such object."))
        return obj

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self.object_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.object_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)


class SiteScopedInline(_Scoped):
    """Mixed into an inline (before ``TabularInline``/``StackedInline``)."""


class RecordAdmin(SiteScopedAdmin):
    """The admin of a record: what the product wrote (a send, an event, a click, a
    conversion, a message). Records are facts: anyone who may see one reads it, nobody adds,
    edits or deletes one here, operators included; a correction is an action of its own that
    writes its audit row (who, when, why)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class RecordInline(SiteScopedInline):
    """A record's history shown in its page (a send's statuses, a contact's consents): read
    only, as :class:`RecordAdmin`. Mixed in before ``TabularInline``/``StackedInline``."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
