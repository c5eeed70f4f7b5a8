"""The email of one send: its subject, its text and HTML parts, and its headers.

(First version: text only. The HTML part, the shop's identity and the previews come with the
email's own templates.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from campaigns.models import OptOutLink, Send, ShortLink
from campaigns.sms_templates import render
from campaigns.sms_text import discount_code_for, format_money, link_url, opt_out_url


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def render_email(
    send: Send, *, link: ShortLink, unsubscribe: OptOutLink
) -> tuple[RenderedEmail, str]:
    """The email of ``send``, and a note for its history (a discount fallback), or ``""``."""
    site, cart, contact, step = send.site, send.cart, send.contact, send.step
    items = cart.items or []
    code, note = discount_code_for(send)
    unsubscribe_url = opt_out_url(unsubscribe)
    values = {
        "first_name": contact.first_name if contact else "",
        "shop": site.name,
        "cart_total": format_money(cart.total, cart.currency, site.language),
        "item_name": items[0]["name"] if items else "",
        "item_count": cart.item_count,
        "link": link_url(link),
        "discount_code": code,
        "stop": "",
        "stop_link": unsubscribe_url,
    }
    subject = render(step.subject or "{{ shop }}", values).strip()
    text = render(step.email_template or step.template, values).strip()
    text += f"\n\n{values['link']}\n\n{site.name}\n{site.postal_address}\n{unsubscribe_url}\n"
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return RenderedEmail(subject=subject, text=text, headers=headers), note
