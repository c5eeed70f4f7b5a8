"""The marketer's pages, under ``/dashboard/`` (included by ``retargeting.urls``)."""

from django.urls import path

from campaigns.dashboard import activity, contacts, editor, flows, installation, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sends/", activity.sends, name="dashboard-sends"),
    path("sends/<int:send_id>/", activity.send_detail, name="dashboard-send"),
    path("contacts/", contacts.contacts, name="dashboard-contacts"),
    path("contacts/<int:contact_id>/", contacts.contact_detail, name="dashboard-contact"),
    path(
        "contacts/<int:contact_id>/unsubscribe",
        contacts.unsubscribe,
        name="dashboard-contact-unsubscribe",
    ),
    path("exports/sends.csv", activity.export_sends, name="dashboard-export-sends"),
    path(
        "exports/conversions.csv",
        activity.export_conversions,
        name="dashboard-export-conversions",
    ),
    path("install/", installation.install, name="dashboard-install"),
    path("install/key", installation.rotate_key, name="dashboard-install-rotate"),
    path("install/events", installation.events, name="dashboard-install-events"),
    path("preview", editor.preview_view, name="dashboard-preview"),
    path("test-send", editor.test_send_view, name="dashboard-test-send"),
]

# Flows (FL): the list, a new flow from a trigger, a flow's page and its actions, the rules.
urlpatterns += [
    path("flows/", flows.flows, name="dashboard-flows"),
    path("flows/new/", flows.flow_new, name="dashboard-flow-new"),
    path("flows/rules/", flows.sending_rules, name="dashboard-sending-rules"),
    path("flows/<int:flow_id>/", flows.flow_detail, name="dashboard-flow"),
    path("flows/<int:flow_id>/state", flows.flow_state, name="dashboard-flow-state"),
    path("flows/<int:flow_id>/steps/add", flows.flow_step_add, name="dashboard-flow-step-add"),
    path(
        "flows/<int:flow_id>/steps/remove",
        flows.flow_step_remove,
        name="dashboard-flow-step-remove",
    ),
]
