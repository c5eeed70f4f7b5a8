"""Generated templates: saved with a clear error or rendered, never a crash and never a leak."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from campaigns.sms_templates import FILTERS, VARIABLES, InvalidTemplate, render, template_errors
from tests.support.generated import SETTINGS, hostile_text

SECRET = "s3cr3t-never-in-an-sms"

# Pieces a marketer (or someone probing) might put together: our variables and filters,
# Django tags we do not allow, attribute lookups, and broken braces.
pieces = st.one_of(
    hostile_text,
    st.sampled_from(VARIABLES).map(lambda v: "{{ " + v + " }}"),
    st.builds(
        lambda v, f, arg: "{{ " + v + "|" + f + (":" + arg if arg else "") + " }}",
        st.sampled_from([*VARIABLES, "settings", "request", "shop.__class__", "link.0"]),
        st.sampled_from([*sorted(FILTERS), "safe", "pprint", "slice", "add", "debug"]),
        st.sampled_from(["", '"x"', "settings.SECRET_KEY", "shop", "'%s'"]),
    ),
    st.sampled_from(
        [
            "{% if first_name %}",
            "{% if not discount_code %}",
            "{% else %}",
            "{% endif %}",
            "{% if first_name and shop %}",
            "{% load static %}",
            "{% include 'x.html' %}",
            "{% debug %}",
            "{% csrf_token %}",
            "{% for x in shop %}",
            "{% endfor %}",
            "{% templatetag openblock %}",
            "{% now 'Y' %}",
            "{# note #}",
            "{% comment %}",
            "{{",
            "}}",
            "{%",
            "%}",
            "{{ }}",
            "{% %}",
            "{{ first_name }",
            "{ first_name }}",
        ]
    ),
)
templates = st.lists(pieces, max_size=8).map("".join)


@SETTINGS
@given(text=templates)
@example(text="{% if first_name %}Bonjour {{ first_name }}{% endif %}")
@example(text="{{ first_name|default:settings.SECRET_KEY }}")
@example(text="{% if first_name %}{% if shop %}{% endif %}")
def test_a_template_is_refused_with_reasons_or_renders_without_leaking(text):
    errors = template_errors(text)
    assert all(isinstance(error, str) and error for error in errors)
    variables = {
        "first_name": "Élise",
        "shop": "Boutique",
        "cart_total": "42,00 €",
        "link": "https://r.example/c/abc",
        # Not a template variable: a template must not reach it however it is written.
        "secret": SECRET,
        "settings": SECRET,
    }
    if errors:
        try:
            render(text, variables)
        except InvalidTemplate as refused:
            assert refused.errors == errors
        else:
            raise AssertionError(f"{text!r} has errors {errors} but rendered")
        return
    body = render(text, variables)
    assert isinstance(body, str)
    assert SECRET not in body
    # Only {% if %}, {% else %}, {% endif %} (and comments) survive validation.
    assert not any(tag in text for tag in FORBIDDEN_TAGS)


FORBIDDEN_TAGS = ("{% load", "{% include", "{% debug", "{% for", "{% now", "{% csrf_token")
