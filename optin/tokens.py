"""The signed contact token a short-link redirect adds to the landing URL (``_rl``).

It ties the browser that opens the link to the contact the SMS was sent to, which is how a
phone and a laptop become one customer. Signed with the site's id and the contact's, and
valid as long as the site's short links are.
"""

from __future__ import annotations

from django.core import signing

from optin.models import Contact
from retargeting.sites.models import Site

SALT = "relance.optin.contact-token"


def make_token(contact: Contact) -> str:
    return signing.TimestampSigner(salt=SALT).sign(f"{contact.site_id}.{contact.pk}")


def contact_for_token(token: str, *, site: Site) -> Contact | None:
    """The contact a token names, if it is genuine, unexpired and for ``site``."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=site.link_ttl_days * 86400)
        site_id, contact_id = (int(part) for part in value.split("."))
    except (signing.BadSignature, ValueError):
        return None
    if site_id != site.pk:
        return None
    return Contact.objects.filter(pk=contact_id, site=site).first()
