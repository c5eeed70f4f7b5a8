"""Every trigger's default step, in French and English: the one home of the texts a new flow
starts with (``manage.py add_flow``, the admin's "new flow from a trigger", ``bootstrap_site``).

Each SMS is GSM-7 only (no ç, ê, ’…: é, è and à are GSM-7) and fits ONE segment at its longest:
a 20-character shop name, a 20-letter first name, the longest values of the trigger's
variables (``campaigns.triggers.WORST_VALUES``), a short-link base of up to 30 characters and
the opt-out mention of the site's route, appended by ``campaigns.flows.default_template``
("Répondez STOP pour vous désabonner", "Text STOP to +NUMBER to opt out", the provider's STOP
code, or "Stop SMS : " and the one-tap link). Where the mention is the one-tap link two links
share the 160 characters: ``sms_with_link`` is the shorter text used then (the first name, the
product or the total gives way). ``tests/campaigns/test_default_texts.py`` holds every built
trigger to this, on every route, so a new trigger is covered without a new test.
"""

from __future__ import annotations

from dataclasses import dataclass

from retargeting.sites.models import Language


@dataclass(frozen=True)
class DefaultTexts:
    """A trigger's default step in one language: its SMS without the opt-out mention (which
    is appended on the site's route), the shorter SMS used where that mention is the one-tap
    link (empty: the same), and its email's subject and words."""

    sms: str
    subject: str
    email: str
    sms_with_link: str = ""
    name: str = ""
    """The flow's default name."""


FR, EN = Language.FR, Language.EN
_FIRST = "{% if first_name %} {{ first_name }}{% endif %}"
_HELLO = {FR: f"Bonjour{_FIRST},\n\n", EN: f"Hello{_FIRST},\n\n"}

DEFAULT_TEXTS: dict[str, dict[Language, DefaultTexts]] = {
    "cart_abandoned": {
        FR: DefaultTexts(
            name="Relance de panier",
            sms="{{ shop }} : {% if first_name %}{{ first_name }}, {% endif %}votre panier de "
            "{{ cart_total }} est là {{ link }}\n",
            sms_with_link="{{ shop }} : votre panier vous attend : {{ link }}\n",
            subject="{{ shop }} : votre panier vous attend",
            email=_HELLO[FR] + "votre panier de {{ cart_total }} vous attend chez {{ shop }}. "
            "Reprenez-le où vous l'avez laissé : {{ link }}",
        ),
        EN: DefaultTexts(
            name="Cart reminder",
            sms="{{ shop }}: {% if first_name %}{{ first_name }}, {% endif %}your "
            "{{ cart_total }} cart awaits: {{ link }}\n",
            sms_with_link="{{ shop }}: your cart is waiting: {{ link }}\n",
            subject="{{ shop }}: your cart is waiting",
            email=_HELLO[EN] + "your {{ cart_total }} cart is waiting at {{ shop }}. "
            "Pick up where you left off: {{ link }}",
        ),
    },
    "browse_abandoned": {
        FR: DefaultTexts(
            name="Relance de navigation",
            sms="{{ shop }} : {{ product_name }} vous attend : {{ link }}\n",
            sms_with_link="{{ shop }} : votre coup de coeur vous attend {{ link }}\n",
            subject="{{ shop }} : {{ product_name }} vous attend",
            email=_HELLO[FR] + "vous regardiez {{ product_name }} chez {{ shop }}. "
            "Il vous attend : {{ link }}",
        ),
        EN: DefaultTexts(
            name="Browse reminder",
            sms="{{ shop }}: {{ product_name }} awaits you: {{ link }}\n",
            sms_with_link="{{ shop }}: the item you viewed awaits you {{ link }}\n",
            subject="{{ shop }}: {{ product_name }} is waiting for you",
            email=_HELLO[EN] + "you were looking at {{ product_name }} at {{ shop }}. "
            "Take another look: {{ link }}",
        ),
    },
    "back_in_stock": {
        FR: DefaultTexts(
            name="Retour en stock",
            sms="{{ shop }} : {{ product_name }} est de retour ! {{ link }}\n",
            sms_with_link="{{ shop }} : votre article est de retour ! {{ link }}\n",
            subject="{{ shop }} : {{ product_name }} est de retour",
            email=_HELLO[FR] + "{{ product_name }}, que vous attendiez, est de nouveau "
            "disponible chez {{ shop }} : {{ link }}",
        ),
        EN: DefaultTexts(
            name="Back in stock",
            sms="{{ shop }}: {{ product_name }} is back! {{ link }}\n",
            sms_with_link="{{ shop }}: your item is back in stock! {{ link }}\n",
            subject="{{ shop }}: {{ product_name }} is back in stock",
            email=_HELLO[EN] + "{{ product_name }}, which you asked about, is available again "
            "at {{ shop }}: {{ link }}",
        ),
    },
    "welcome": {
        FR: DefaultTexts(
            name="Bienvenue",
            sms="{{ shop }} : bienvenue" + _FIRST + " !{% if discount_code %} Votre code : "
            "{{ discount_code }}{% endif %} {{ link }}\n",
            sms_with_link="{{ shop }} : bienvenue !{% if discount_code %} Code : "
            "{{ discount_code }}{% endif %} {{ link }}\n",
            subject="Bienvenue chez {{ shop }}",
            email=_HELLO[FR] + "merci de votre inscription chez {{ shop }}."
            "{% if discount_code %} Votre code de bienvenue : {{ discount_code }}.{% endif %} "
            "À bientôt : {{ link }}",
        ),
        EN: DefaultTexts(
            name="Welcome",
            sms="{{ shop }}: welcome" + _FIRST + "!{% if discount_code %} Your code: "
            "{{ discount_code }}{% endif %} {{ link }}\n",
            sms_with_link="{{ shop }}: welcome!{% if discount_code %} Code: "
            "{{ discount_code }}{% endif %} {{ link }}\n",
            subject="Welcome to {{ shop }}",
            email=_HELLO[EN] + "thank you for signing up at {{ shop }}."
            "{% if discount_code %} Your welcome code: {{ discount_code }}.{% endif %} "
            "See you soon: {{ link }}",
        ),
    },
    "order_confirmation": {
        FR: DefaultTexts(
            name="Confirmation de commande",
            sms="{{ shop }} : merci ! Commande {{ order_number }} confirmée "
            "({{ order_total }}) {{ link }}\n",
            sms_with_link="{{ shop }} : commande {{ order_number }} confirmée {{ link }}\n",
            subject="{{ shop }} : commande {{ order_number }} confirmée",
            email=_HELLO[FR] + "merci ! Votre commande {{ order_number }} de {{ order_total }} "
            "chez {{ shop }} est confirmée : {{ link }}",
        ),
        EN: DefaultTexts(
            name="Order confirmation",
            sms="{{ shop }}: order {{ order_number }} confirmed ({{ order_total }}) {{ link }}\n",
            sms_with_link="{{ shop }}: order {{ order_number }} confirmed {{ link }}\n",
            subject="{{ shop }}: order {{ order_number }} confirmed",
            email=_HELLO[EN] + "thank you! Your {{ order_total }} order {{ order_number }} at "
            "{{ shop }} is confirmed: {{ link }}",
        ),
    },
    "shipping_update": {
        FR: DefaultTexts(
            name="Expédition",
            sms="{{ shop }} : votre commande {{ order_number }} est expédiée. Suivi : {{ link }}\n",
            sms_with_link="{{ shop }} : commande {{ order_number }} expédiée : {{ link }}\n",
            subject="{{ shop }} : commande {{ order_number }} expédiée",
            email=_HELLO[FR] + "votre commande {{ order_number }} chez {{ shop }} est en "
            "route. Suivez-la : {{ link }}",
        ),
        EN: DefaultTexts(
            name="Shipping update",
            sms="{{ shop }}: order {{ order_number }} has shipped. Track it: {{ link }}\n",
            sms_with_link="{{ shop }}: order {{ order_number }} shipped: {{ link }}\n",
            subject="{{ shop }}: order {{ order_number }} has shipped",
            email=_HELLO[EN] + "your order {{ order_number }} from {{ shop }} is on its way. "
            "Track it: {{ link }}",
        ),
    },
    "review_request": {
        FR: DefaultTexts(
            name="Demande d'avis",
            sms="{{ shop }} : votre avis sur {% if product_name %}{{ product_name }}"
            "{% else %}votre commande{% endif %} ? {{ link }}\n",
            sms_with_link="{{ shop }} : votre avis sur votre commande ? {{ link }}\n",
            subject="{{ shop }} : votre avis nous intéresse",
            email=_HELLO[FR] + "que pensez-vous de {% if product_name %}{{ product_name }}"
            "{% else %}votre commande{% endif %} ? Votre avis aide {{ shop }} et ses "
            "clients : {{ link }}",
        ),
        EN: DefaultTexts(
            name="Review request",
            sms="{{ shop }}: how's your {% if product_name %}{{ product_name }}"
            "{% else %}order{% endif %}? {{ link }}\n",
            sms_with_link="{{ shop }}: how was your order? {{ link }}\n",
            subject="{{ shop }}: how was your order?",
            email=_HELLO[EN] + "how do you like {% if product_name %}{{ product_name }}"
            "{% else %}your order{% endif %}? Your review helps {{ shop }} and its "
            "customers: {{ link }}",
        ),
    },
}
"""By trigger name (a ``Trigger`` value), then language."""


def default_texts(trigger: str, language: str) -> DefaultTexts:
    """``trigger``'s default step in ``language`` (KeyError: a trigger without defaults)."""
    return DEFAULT_TEXTS[trigger][Language(language)]
