"""Celery tasks of the opt-in layer: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from optin import confirmation, email_confirmation, retention


@shared_task(name="optin.tasks.send_confirmation_sms", ignore_result=True)
def send_confirmation_sms(contact_id: int) -> bool:
    return confirmation.send_confirmation(contact_id=contact_id)


@shared_task(name="optin.tasks.send_confirmation_email", ignore_result=True)
def send_confirmation_email(contact_id: int) -> bool:
    return email_confirmation.send_email_confirmation(contact_id=contact_id)


@shared_task(name="optin.tasks.erase_inactive_prospects", ignore_result=True)
def erase_inactive_prospects() -> int:
    """Nightly: prospects inactive for PROSPECT_RETENTION_DAYS."""
    return retention.erase_inactive_prospects()
