"""Brevo's transactional email (``EMAIL_PROVIDER=brevo``) through django-anymail."""
