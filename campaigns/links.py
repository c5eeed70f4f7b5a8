"""Where the short link in an SMS leads, and who tapped it (the page is
``campaigns.customer.views.follow``).

The redirect keeps the target's own query, adds the UTM tags and the signed contact token
(``_rl``) that the snippet sends back, which ties this browser to the contact. Link-preview
fetchers and HEAD requests get the redirect but are not clicks; taps repeated within a short
window count once.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from campaigns.models import ShortLink
from campaigns.trigger_registry import room_of
from optin.tokens import make_token
from retargeting.tracking.restore import RESTORE_PARAM, make_restore_token

TOKEN_PARAM = "_rl"  # noqa: S105 - a query parameter name, not a secret
REPEAT_WINDOW = timedelta(seconds=30)
# Apps that fetch a link to show a preview: not a person tapping it.
PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|whatsapp|telegrambot|"
    r"skypeuripreview|discordbot|linkedinbot|applebot|iframely|embedly|googlebot|bingbot|"
    r"bot\b|crawler|spider|preview",
    re.IGNORECASE,
)


def user_agent_class(user_agent: str) -> str:
    if not user_agent:
        return "unknown"
    if PREVIEW_AGENTS.search(user_agent):
        return "preview"
    if re.search(r"iphone|android|mobile", user_agent, re.IGNORECASE):
        return "mobile"
    return "desktop"


def destination(link: ShortLink, *, with_token: bool = True, user_agent: str = "") -> str:
    """The target URL with its own query kept, the UTM tags and the contact token added (a
    token for this tap, by the browser sending ``user_agent``: see ``optin.tokens``).

    The target is checked against the site's domains now, not only when the cart came in (a
    domain may have been removed since): a link of ours never leads off the shop's site, and
    the contact token is only ever handed to the shop's own pages.
    """
    send = link.send
    site, trigger = send.site, room_of(send)
    # A carrier's tracking page is allowed only where the shop's server gave it.
    allowed = site.owns_url(link.target_url) or trigger.offsite_link_allowed(send)
    target = link.target_url if allowed else site.home_url
    parts = urlsplit(target)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("utm_source", "utm_medium", "utm_campaign", TOKEN_PARAM, RESTORE_PARAM)
    ]
    query += [
        ("utm_source", send.channel),
        ("utm_medium", "relance"),
        ("utm_campaign", send.step.flow.slug),
    ]
    if with_token and send.contact is not None and site.owns_url(target):
        # A message asked for by a browser: the owner's tap proves that one theirs too.
        requester = trigger.requester_id(send)
        token = make_token(send.contact, user_agent=user_agent, requester_id=requester)
        query.append((TOKEN_PARAM, token))
    if send.cart_id is not None and site.owns_url(target):
        # The cart the message was about, for a page that rebuilds it on this device: its
        # contents only, for as long as the link lives (retargeting.tracking.restore).
        restore = make_restore_token(
            cart_id=send.cart_id, site_id=site.pk, expires_at=link.expires_at
        )
        query.append((RESTORE_PARAM, restore))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
