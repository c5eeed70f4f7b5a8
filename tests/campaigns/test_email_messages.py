"""The email of one send (campaigns/email_messages.py, templates/email/): the step's subject and
text with the SMS's variables, the cart in HTML (escaped: item names are the shopper's input)
and in text, one button to the short link, the shop's identity, the unsubscribe link and the
RFC 8058 headers; the checks on an email step's texts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.test import override_settings

from campaigns.admin import StepForm
from campaigns.email_messages import (
    compose_email,
    email_sender,
    email_text_errors,
    preview_email,
    render_email,
)
from campaigns.flows import create_default_flow
from campaigns.models import StepChannel
from campaigns.opt_out import link_for
from campaigns.sms_text import short_link
from retargeting.channels import Channel
from retargeting.gateways import deliver, get_gateway
from retargeting.gateways.base import Outcome, OutgoingEmail
from tests.factories import SendFactory, StepFactory

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>"Robe" & co'


@pytest.fixture
def shop(site):
    site.name = "Maison Demo"
    site.email_from = "Maison Demo <bonjour@maison-demo.fr>"
    site.postal_address = "12 rue des Lilas\n75011 Paris"
    site.save()
    return site


def email_send(shop, **step):
    send = SendFactory(
        cart__visitor__site=shop,
        cart__total=Decimal("89.85"),
        cart__item_count=3,
        cart__items=[
            {
                "sku": "A1",
                "name": "Chemise en lin",
                "price": "29.95",
                "quantity": 2,
                "image": "https://shop.example/img/chemise.jpg",
            },
            {"sku": "B2", "name": HOSTILE, "price": "29.95", "quantity": 1},
        ],
        step__channel=StepChannel.EMAIL,
        step__subject=step.pop("subject", "{{ first_name }}, votre panier chez {{ shop }}"),
        step__email_template=step.pop("email_template", ""),
        channel=Channel.EMAIL,
        **{f"step__{key}": value for key, value in step.items()},
    )
    return send


def rendered(send):
    link, unsubscribe = short_link(send), link_for(send)
    email, _note = render_email(send, link=link, unsubscribe=unsubscribe)
    return email, link, unsubscribe


@override_settings(PUBLIC_BASE_URL="https://relance.example", SHORT_LINK_BASE_URL="")
def test_the_email_carries_the_cart_one_button_the_shop_and_the_one_click_headers(shop):
    send = email_send(shop)
    email, link, unsubscribe = rendered(send)
    assert email.subject == "Marie, votre panier chez Maison Demo"
    assert email.headers == {
        "List-Unsubscribe": f"<https://relance.example/u/{unsubscribe.code}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    html = email.html
    # One button, the short link; the other link is the unsubscribe link; nothing else.
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == [
        f"https://relance.example/s/{link.code}",
        f"https://relance.example/u/{unsubscribe.code}",
    ]
    assert "Chemise en lin" in html and "Quantité : 2" in html and "29,95 €" in html
    assert "89,85 €" in html and "Retrouver mon panier" in html
    assert (
        '<img src="https://shop.example/img/chemise.jpg" alt="Chemise en lin" width="72" '
        'height="72"' in html
    )
    assert "Maison Demo" in html and "bonjour@maison-demo.fr" in html
    assert "12 rue des Lilas<br>75011 Paris" in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "prefers-color-scheme: dark" in html
    # Self-contained and untracked: no stylesheet, font or image from elsewhere.
    assert "<link" not in html and "@import" not in html and "@font-face" not in html
    assert re.findall(r"<img ", html) == ["<img "]  # the cart's one image, no pixel
    assert "url(" not in html


def test_item_names_are_escaped_in_the_html_and_plain_in_the_text(shop):
    email, _link, _unsubscribe = rendered(email_send(shop))
    assert "<script>" not in email.html and "<img src=x" not in email.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in email.html
    assert "&quot;Robe&quot; &amp; co" in email.html
    assert HOSTILE in email.text  # the text part is text: nothing to escape


@override_settings(PUBLIC_BASE_URL="https://relance.example", SHORT_LINK_BASE_URL="")
def test_the_text_part_has_the_message_the_cart_the_link_the_shop_and_the_unsubscribe_link(shop):
    send = email_send(shop, email_template="Bonjour {{ first_name }}, il vous attend !")
    email, link, unsubscribe = rendered(send)
    text = email.text
    assert text.startswith(
        "Bonjour Marie, il vous attend !\n\n- Chemise en lin (quantité : 2) : 29,95 €"
    )
    assert "Total : 89,85 €" in text
    assert f"Retrouver mon panier : https://relance.example/s/{link.code}" in text
    assert "12 rue des Lilas\n75011 Paris" in text
    assert text.rstrip().endswith(
        f"Se désabonner des emails de Maison Demo : https://relance.example/u/{unsubscribe.code}"
    )
    assert "STOP" not in text


@override_settings(PUBLIC_BASE_URL="https://relance.example", SHORT_LINK_BASE_URL="https://rl.ink")
def test_the_unsubscribe_url_is_on_relances_own_origin_as_the_contract_says(shop):
    # CONTRACT.md: List-Unsubscribe: <PUBLIC_BASE_URL/u/CODE> (the short origin is for SMS).
    send = email_send(shop)
    email, link, unsubscribe = rendered(send)
    assert email.headers["List-Unsubscribe"] == f"<https://relance.example/u/{unsubscribe.code}>"
    assert f"https://relance.example/u/{unsubscribe.code}" in email.text
    assert f"https://rl.ink/s/{link.code}" in email.text  # the cart's link stays short


def test_a_cart_asked_for_by_a_shopper_carries_no_address_of_theirs_and_says_why_it_came(shop):
    # The bridge emails a cart anyone may have written to an address anyone may have typed.
    items = [
        {
            "name": "Compte suspendu : vérifiez sur https://evil.example/login ou evil.example",
            "price": 10,
            "quantity": 1,
            "image": "https://evil.example/track.gif",
        },
        {
            "name": "Chemise en lin",
            "price": 29.95,
            "quantity": 1,
            "image": "https://shop.example/img/chemise.jpg",
        },
    ]
    values = {
        "step": StepFactory(flow__site=shop, channel=StepChannel.EMAIL, subject="Votre panier"),
        "site": shop,
        "first_name": "",
        "items": items,
        "total": Decimal("39.95"),
        "currency": "EUR",
        "item_count": 2,
        "discount_code": "",
        "link": "https://relance.example/s/abc",
        "unsubscribe": "https://relance.example/u/def",
    }
    asked = compose_email(**values, asked=True)
    for part in (asked.text, asked.html):
        assert "evil.example" not in part
        assert "Compte suspendu : vérifiez sur ou" in part
        assert "https://shop.example/img/chemise.jpg" in part or part is asked.text
    assert "ce panier a été demandé à cette adresse" in asked.text
    assert "vous avez accepté" not in asked.text
    # Control: a reminder to a consenting customer's own cart keeps her cart as it is.
    reminder = compose_email(**values)
    assert "https://evil.example/track.gif" in reminder.html
    assert "vous avez accepté de recevoir ses offres" in reminder.text


def test_without_an_email_text_the_sms_words_are_used_without_the_link_and_the_stop_mention(
    shop,
):
    flow = create_default_flow(site=shop)
    step = flow.steps.get()
    assert "STOP" in step.template or "Stop SMS" in step.template
    step.channel, step.subject = StepChannel.EMAIL, "Votre panier"
    step.save()
    send = email_send(shop)
    send.step = step
    email, link, _unsubscribe = rendered(send)
    message = email.text.split("\n\n")[0]
    assert message == "Maison Demo : Marie, votre panier de 89,85 € est là"
    assert "STOP" not in email.html and "Stop SMS" not in email.html
    assert email.html.count(f"/s/{link.code}") == 1  # the button, not the text


def test_english_shops_get_english_words_and_money(shop):
    shop.language = "en"
    shop.save()
    send = email_send(shop, subject="Your cart at {{ shop }}")
    send.cart.currency = "USD"
    send.cart.save()
    email, _link, _unsubscribe = rendered(send)
    assert email.subject == "Your cart at Maison Demo"
    assert "Return to my cart" in email.html and "$89.85" in email.html
    assert "quantity: 2" in email.text and "Unsubscribe from Maison Demo's emails" in email.text


def test_a_subject_is_one_line_whatever_the_item_name(shop):
    send = email_send(shop, subject="{{ item_name }} !")
    send.cart.items = [{"name": "Robe\r\nBcc: victim@example.com", "price": "1", "quantity": 1}]
    send.cart.save()
    email, _link, _unsubscribe = rendered(send)
    assert email.subject == "Robe Bcc: victim@example.com !"


@override_settings(DEFAULT_FROM_EMAIL="Relance <envoi@relance.example>")
def test_the_sender_is_the_sites_own_or_the_platforms_under_the_shops_name(shop):
    assert email_sender(shop) == "Maison Demo <bonjour@maison-demo.fr>"
    shop.email_from = ""
    assert email_sender(shop) == "Maison Demo <envoi@relance.example>"


def test_an_email_step_needs_a_subject_valid_templates_and_no_stop_reply(shop):
    step = StepFactory(flow__site=shop, channel=StepChannel.EMAIL, subject="")
    assert email_text_errors(step) == {"subject": ["An email step needs a subject."]}
    step.subject = "{{ nope }}"
    step.email_template = "Bonjour {% load static %}. Répondez STOP pour arrêter."
    errors = email_text_errors(step)
    assert "unknown variable" in errors["subject"][0]
    assert any("not allowed" in error for error in errors["email_template"])
    assert any("Repondez STOP" in error for error in errors["email_template"])
    with pytest.raises(ValidationError) as caught:
        step.full_clean()
    assert set(caught.value.message_dict) == {"subject", "email_template"}
    step.channel = StepChannel.SMS  # an SMS step's email fields are not checked
    assert email_text_errors(step) == {}
    step.channel, step.subject, step.email_template = StepChannel.SMS_ELSE_EMAIL, "Hop", ""
    assert email_text_errors(step) == {}
    step.full_clean()


def test_an_email_step_needs_no_sms_text_but_some_text(shop):
    step = StepFactory(flow__site=shop, channel=StepChannel.EMAIL, subject="Votre panier")
    step.template, step.email_template = "", "Bonjour {{ first_name }}, votre panier vous attend."
    step.full_clean()  # an email step of its own words needs no SMS text
    step.email_template = ""
    with pytest.raises(ValidationError) as caught:
        step.full_clean()
    assert caught.value.message_dict == {"email_template": ["Write the email's text."]}
    step.channel, step.email_template = StepChannel.SMS_ELSE_EMAIL, "Bonjour."
    with pytest.raises(ValidationError) as caught:
        step.full_clean()  # it may go by SMS: the SMS needs its text
    assert caught.value.message_dict == {"template": ["A step that may go by SMS needs its text."]}


def test_the_preview_is_the_same_email_with_sample_data(shop):
    step = StepFactory(flow__site=shop, channel=StepChannel.EMAIL, subject="Pour {{ first_name }}")
    email = preview_email(step)
    assert email.subject == "Pour Marie"
    assert "Chemise en lin" in email.html and "59,90 €" in email.html
    assert "List-Unsubscribe" in email.headers


def test_the_admins_step_form_offers_the_channel_and_checks_the_email_texts(shop):
    step = StepFactory(flow__site=shop, template="{{ shop }} : votre panier {{ link }} STOP")
    form = StepForm(instance=step)
    assert {"channel", "subject", "email_template"} <= set(form.fields)
    data = model_to_dict(step)
    data.update(channel=StepChannel.EMAIL, subject="", email_template="")
    form = StepForm(data=data, instance=step)
    assert not form.is_valid() and form.errors["subject"] == ["An email step needs a subject."]
    data.update(subject="Votre panier", email_template="Répondez STOP pour arrêter.")
    form = StepForm(data=data, instance=step)
    assert not form.is_valid()
    assert "an email is not answered with STOP" in form.errors["email_template"][0]
    data.update(email_template="Bonjour {{ first_name }}, votre panier vous attend.")
    form = StepForm(data=data, instance=step)
    assert form.is_valid(), form.errors
    form.save()
    step.refresh_from_db()
    assert (step.channel, step.subject) == (StepChannel.EMAIL, "Votre panier")


@override_settings(PUBLIC_BASE_URL="https://relance.example", SHORT_LINK_BASE_URL="")
def test_the_email_leaves_through_a_real_smtp_server_with_both_parts_and_the_headers(shop, smtp):
    send = email_send(shop)
    email, link, unsubscribe = rendered(send)
    result = deliver(
        OutgoingEmail(
            to="marie@example.fr",
            subject=email.subject,
            text=email.text,
            html=email.html,
            sender=email_sender(shop),
            headers=email.headers,
        ),
        gateway=get_gateway("email"),
    )
    assert result.outcome is Outcome.ACCEPTED
    [received] = smtp.messages
    message = received.message
    assert message["From"] == "Maison Demo <bonjour@maison-demo.fr>"
    assert message["Subject"] == "Marie, votre panier chez Maison Demo"
    assert message["List-Unsubscribe"] == f"<https://relance.example/u/{unsubscribe.code}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"https://relance.example/s/{link.code}" in text
    assert f'href="https://relance.example/s/{link.code}"' in html
    assert "&lt;script&gt;" in html


def test_a_bare_stop_ending_the_sms_text_is_left_out_of_the_email_and_nonstop_stays(shop):
    send = email_send(shop)
    send.step.template = "Sweat Nonstop : votre panier {{ link }} STOP"
    email, _link, _unsubscribe = rendered(send)
    assert email.text.split("\n\n")[0] == "Sweat Nonstop : votre panier"
