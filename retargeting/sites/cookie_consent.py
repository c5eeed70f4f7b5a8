"""Whether a shop's snippet waits for the visitor's cookie consent, by the shop's country.

The ePrivacy directive (article 5(3)), as France's CNIL applies it, asks for consent before a
cookie that is not strictly needed is stored: in the EU and the EEA the snippet waits for it
unless the platform's operators decide otherwise for a site.
"""

from __future__ import annotations

# The EU's 27 members, with the regions phonenumbers codes apart that are EU territory
# (France's overseas departments and Saint-Martin, Finland's Åland), and the EEA's three others.
EEA = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
        "GP", "MQ", "GF", "RE", "YT", "MF", "AX",
        "IS", "LI", "NO",
    }
)  # fmt: skip


def consent_required_in(country: str) -> bool:
    """Whether a shop of ``country`` (ISO 3166) must wait for cookie consent by default."""
    return country.upper() in EEA
