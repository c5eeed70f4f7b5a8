"""What an admin change form posts back, for tests that post it as a browser would."""

from __future__ import annotations


def change_form_data(response):
    """What the admin's change form would post back, as the browser shows it."""
    data = {}

    def add(form):
        for name in form.fields:
            value = form[name].value()
            key = form.add_prefix(name)
            if value is True:
                data[key] = "on"
            elif value is not None and value is not False:  # 0 is a value
                data[key] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for form in formset.forms:
            add(form)
    return data
