"""Discount codes, transliteration to GSM-7, the longest message a step can send, its cost."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone

from campaigns import sending
from campaigns.admin import StepForm
from campaigns.costs import estimate, price_per_segment
from campaigns.flows import create_default_flow
from campaigns.models import DiscountCode, Send, SendStatus
from campaigns.sms_text import (
    compose,
    discount_code_for,
    render_body,
    worst_case,
    worst_case_errors,
)
from retargeting.sites.models import Language
from retargeting.sms import segments
from retargeting.sms.phones import region_of_e164
from retargeting.sms.segments import to_gsm7
from tests.factories import SendFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_site(site):
    site.quiet_hours = "none"
    site.save()
    return site


def due_send(step, contact, cart_of, **fields):
    cart = cart_of(contact, at=timezone.now() - timedelta(minutes=30), **fields)
    return SendFactory(
        cart=cart,
        step=step,
        contact=contact,
        planned_at=timezone.now() - timedelta(minutes=1),
        due_at=timezone.now(),
    )


def test_a_fixed_code_is_in_every_message(open_site, consenting_contact, abandoned_cart_of):
    step = StepFactory(
        flow__site=open_site,
        discount_mode="fixed",
        discount_code="RELANCE10",
        template="Code {{ discount_code }} : {{ link }} STOP",
    )
    send = due_send(step, consenting_contact, abandoned_cart_of)
    assert sending.deliver(send_id=send.pk) == "accepted"
    send.refresh_from_db()
    assert send.body.startswith("Code RELANCE10 : ")


@pytest.fixture
def pool_step(open_site):
    step = StepFactory(
        flow__site=open_site,
        discount_mode="pool",
        discount_code="FALLBACK5",
        template="Votre code {{ discount_code }} : {{ link }} STOP",
    )
    DiscountCode.objects.bulk_create(DiscountCode(step=step, code=f"U-{n:03}") for n in range(3))
    return step


def test_a_pool_hands_each_send_its_own_code_once(
    pool_step, open_site, consenting_contact, abandoned_cart_of
):
    bodies = []
    for _ in range(3):
        send = due_send(pool_step, consenting_contact, abandoned_cart_of)
        assert render_body(send)[0] == render_body(send)[0]  # same code again
        bodies.append(render_body(send)[0])
    assert [body.split()[2] for body in bodies] == ["U-000", "U-001", "U-002"]
    assert not DiscountCode.objects.filter(assigned_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("fallback", "outcome", "code"),
    [
        ("fixed", "accepted", "Votre code FALLBACK5 : "),
        ("no_code", "accepted", "Votre code : "),
        ("hold", "no_discount_code", None),
    ],
)
def test_an_empty_pool_falls_back_as_configured(
    pool_step, consenting_contact, abandoned_cart_of, fallback, outcome, code, caplog
):
    DiscountCode.objects.update(assigned_at=timezone.now())
    pool_step.pool_fallback = fallback
    pool_step.save()
    send = due_send(pool_step, consenting_contact, abandoned_cart_of)
    assert sending.deliver(send_id=send.pk) == outcome
    send.refresh_from_db()
    assert "pool of discount codes is empty" in caplog.text
    if code is None:
        assert (send.status, send.reason) == (SendStatus.DROPPED, "no_discount_code")
        assert send.body == ""
    else:
        assert send.body.startswith(code)
        assert send.history.filter(detail__startswith="pool empty").exists()


def test_a_code_once_handed_out_is_never_handed_out_again_even_if_its_send_is_deleted(
    pool_step, consenting_contact, abandoned_cart_of
):
    send = due_send(pool_step, consenting_contact, abandoned_cart_of)
    first = render_body(send)[0].split()[2]
    send.cart.delete()
    again = due_send(pool_step, consenting_contact, abandoned_cart_of)
    assert render_body(again)[0].split()[2] != first


@pytest.mark.django_db(transaction=True)
def test_unique_codes_under_concurrency(open_site, consenting_contact, abandoned_cart_of):
    step = StepFactory(
        flow__site=open_site,
        discount_mode="pool",
        pool_fallback="no_code",
        template="{{ discount_code }} {{ link }} STOP",
    )
    DiscountCode.objects.bulk_create(DiscountCode(step=step, code=f"C{n:04}") for n in range(40))
    sends = [due_send(step, consenting_contact, abandoned_cart_of) for _ in range(48)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(chunk):
        try:
            start.wait()
            for send in chunk:
                discount_code_for(Send.objects.select_related("step").get(pk=send.pk))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(sends[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    handed = list(DiscountCode.objects.filter(send__isnull=False).values_list("send", "code"))
    assert len(handed) == 40
    assert len({send for send, _ in handed}) == 40 and len({code for _, code in handed}) == 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Françoise, c’est « prêt »…", 'Francoise, c\'est " pret "...'),
        ("Œuvre à 59,90\u00a0€ — île", "OEuvre à 59,90 € - ile"),
        ("Été, où, Ça, ñ", "Été, où, Ça, ñ"),  # already GSM-7: unchanged
        ("Ångström ã 😀", "Ångström a "),
    ],
)
def test_transliteration_to_gsm7(text, expected):
    assert to_gsm7(text) == expected
    assert segments.count(to_gsm7(text)).encoding == "GSM-7"


def test_a_transliterating_flow_sends_gsm7_and_another_keeps_the_accents(
    open_site, consenting_contact, abandoned_cart_of
):
    step = StepFactory(flow__site=open_site, template="{{ first_name }}, c’est prêt : {{ link }}")
    consenting_contact.first_name = "Françoise"
    consenting_contact.save()
    send = due_send(step, consenting_contact, abandoned_cart_of)
    assert render_body(send)[0].startswith("Francoise, c'est pret : ")
    step.flow.transliterate = False
    step.flow.save()
    other = due_send(step, consenting_contact, abandoned_cart_of)
    body = render_body(other)[0]
    assert body.startswith("Françoise, c’est prêt : ")
    assert segments.count(body).ucs2_characters == ("ç", "’", "ê")


def test_the_default_flows_fit_their_segment_limit(site):
    for language in Language.values:
        site.language = language
        flow = create_default_flow(site=site)
        step = flow.steps.get()
        assert worst_case_errors(step) == []
        assert segments.count(worst_case(step)).segments <= 2
        flow.delete()


def test_a_template_too_long_at_its_longest_is_refused_when_saved(site):
    step = StepFactory(
        flow__site=site,
        flow__max_segments=1,
        template="{{ first_name }}, votre panier de {{ cart_total }} ({{ item_name }}) "
        "vous attend : {{ link }}",
    )
    # The worst case has a 20-letter name, the largest total and a 40-character product.
    text = worst_case(step)
    assert "Francoise-Gwendoline" in text and "99 999,99 €" in text
    form = StepForm(data=model_to_dict(step), instance=step)
    assert not form.is_valid()
    (error,) = form.errors["template"]
    assert "needs 2 SMS segments" in error and "allows 1" in error
    step.flow.max_segments = 2
    step.flow.save()
    assert StepForm(data=model_to_dict(step), instance=step).is_valid()


def test_without_transliteration_the_worst_case_is_ucs2_and_names_the_characters(site):
    step = StepFactory(
        flow__site=site,
        flow__transliterate=False,
        flow__max_segments=2,
        template="{{ shop }} : {{ first_name }}, votre panier de {{ cart_total }} vous attend. "
        "Finalisez votre commande : {{ link }}",
    )
    form = StepForm(data=model_to_dict(step), instance=step)
    assert not form.is_valid() and "in UCS-2 because of ç" in form.errors["template"][0]


def test_a_fixed_discount_needs_its_code(site):
    step = StepFactory.build(flow=StepFactory(flow__site=site).flow, position=2)
    step.discount_mode = "fixed"
    with pytest.raises(ValidationError, match="the code everyone gets"):
        step.full_clean()


def test_cost_per_country(settings):
    settings.SMS_PRICES = {"FR": "0.045", "*": "0.08"}
    assert price_per_segment("FR") == Decimal("0.045")
    assert price_per_segment("DE") == Decimal("0.08")
    assert estimate(segments=3, country=region_of_e164("+33612345678")) == Decimal("0.135")
    assert region_of_e164("+12125551234") == "US" and region_of_e164("garbage") == ""


def test_the_admin_imports_a_pool_and_warns_when_it_runs_out(admin_client, pool_step):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = f"/admin/campaigns/step/{pool_step.pk}/codes/"
    page = admin_client.get(f"/admin/campaigns/step/{pool_step.pk}/change/").content.decode()
    assert url in page and "only 3 discount codes left" in page
    upload = SimpleUploadedFile(
        "codes.csv", b"code\nU-000\nNEW-1\nNEW-2\nNEW-2\nnot a code!\n", content_type="text/csv"
    )
    page = admin_client.post(url, {"file": upload}).content.decode()
    assert "2 added, 1 already in the pool, 1 refused" in page and "not a code!" in page
    assert DiscountCode.objects.filter(step=pool_step).count() == 5
    DiscountCode.objects.update(assigned_at=timezone.now())
    page = admin_client.get(f"/admin/campaigns/flow/{pool_step.flow.pk}/change/").content.decode()
    assert "the pool of discount codes is empty (use the fixed code)" in page


def test_a_file_without_codes_is_refused_and_changes_nothing(admin_client, pool_step):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("codes.csv", "é".encode("latin-1"), content_type="text/csv")
    page = admin_client.post(f"/admin/campaigns/step/{pool_step.pk}/codes/", {"file": upload})
    assert "the file is not UTF-8 text" in page.content.decode()
    assert DiscountCode.objects.filter(step=pool_step).count() == 3


@pytest.mark.parametrize("transliterate", [True, False])
def test_a_decomposed_name_is_composed_and_stays_gsm7(site, transliterate):
    step = StepFactory(
        flow__site=site,
        flow__transliterate=transliterate,
        template="{{ first_name }}, votre panier vous attend : {{ link }} {{ stop }}",
    )
    body = compose(
        step, site, {"first_name": "He\u0301le\u0300ne", "link": "https://r.example/s/a"}
    )
    assert body.startswith("Hélène, votre panier")
    assert segments.count(body).encoding == "GSM-7"
