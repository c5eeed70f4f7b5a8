"""SMS templates: the Django template language, restricted to what a reminder needs.

Allowed: the variables below, the filters below, and ``{% if %}``/``{% else %}``/``{% endif %}``
on a variable. Nothing else: no tag reaches the database, the files or the settings. An unknown
variable or a forbidden tag is an error when the template is saved, not when it is sent.
A template is at most ``MAX_LENGTH`` characters, so every check below reads a bounded text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils.translation import gettext as _

COMMON_VARIABLES = ("first_name", "shop", "link", "discount_code", "stop", "stop_link")
"""What every message may use, whatever its trigger."""
TRIGGER_VARIABLES = (
    "cart_total",
    "item_name",
    "item_count",
    "product_name",
    "product_price",
    "order_number",
    "order_total",
)
"""What some triggers fill (each trigger's ``TriggerRoom.variables`` says which): a cart's total,
first item and count; a product's name and price (browse, back in stock, review); an order's
number and total (the messages after the order)."""
VARIABLES = COMMON_VARIABLES + TRIGGER_VARIABLES
# About ten SMS segments: longer than any reminder needs, and the bound that keeps the
# checks below (regular expressions, Django's parser) fast whatever a marketer pastes.
MAX_LENGTH = 1_600
FILTERS = frozenset({"default", "upper", "lower", "capfirst", "title"})
_TAG = re.compile(r"{%\s*(.*?)\s*%}", re.DOTALL)
_VARIABLE = re.compile(r"{{\s*(.*?)\s*}}", re.DOTALL)
_NAME = re.compile(r"[a-z_]+")  # fullmatch, as every pattern
_LITERAL = re.compile(r"""(?:"[^"]*"|'[^']*')""")
# No loaders, no libraries beyond Django's built-in tags and filters, which the checks below
# narrow to the few allowed.
_ENGINE = Engine(loaders=[], libraries={}, autoescape=False)


class InvalidTemplate(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def template_errors(text: str, *, variables: Sequence[str] = VARIABLES) -> list[str]:
    """What is wrong with a template, in words a marketer understands (empty: nothing).
    ``variables``: those the message's trigger fills (a step's text may use no other)."""
    if len(text) > MAX_LENGTH:
        # Checked first and alone: the other checks never read an unbounded text.
        return [
            _("the template is %(length)d characters long: at most %(limit)d are allowed")
            % {"length": len(text), "limit": MAX_LENGTH}
        ]
    errors: list[str] = []
    for tag in _TAG.findall(text):
        words = tag.split()
        if words[:1] == ["if"]:
            simple = len(words) == 2 or (len(words) == 3 and words[1] == "not")
            if not simple or words[-1] not in VARIABLES:
                errors.append(
                    _("{%% %(tag)s %%}: write {%% if variable %%} with one of the variables")
                    % {"tag": tag}
                )
            elif words[-1] not in variables:
                errors.append(_not_filled(words[-1], variables))
        elif words not in (["else"], ["endif"]):
            errors.append(
                _("{%% %(tag)s %%} is not allowed: only if, else and endif") % {"tag": tag}
            )
    for expression in _VARIABLE.findall(text):
        name, *filters = (part.strip() for part in expression.split("|"))
        if name not in VARIABLES:
            errors.append(
                _("unknown variable {{ %(name)s }}: use %(variables)s")
                % {"name": name, "variables": ", ".join(variables)}
            )
        elif name not in variables:
            errors.append(_not_filled(name, variables))
        for used in filters:
            filter_name, colon, argument = (part.strip() for part in used.partition(":"))
            if not _NAME.fullmatch(filter_name) or filter_name not in FILTERS:
                errors.append(
                    _("filter |%(filter)s is not allowed: use %(filters)s")
                    % {"filter": filter_name, "filters": ", ".join(sorted(FILTERS))}
                )
            elif colon and not (_LITERAL.fullmatch(argument) or argument in variables):
                errors.append(
                    _(
                        "|%(filter)s:%(argument)s: the value after the colon must be text in "
                        'quotes ("…") or one of the variables'
                    )
                    % {"filter": filter_name, "argument": argument}
                )
    remainder = _VARIABLE.sub("", _TAG.sub("", text))
    if "{{" in remainder or "{%" in remainder:
        errors.append(_("the template cannot be read: a {{ or {% is not closed"))
    if not errors:
        try:
            _ENGINE.from_string(text)
        except TemplateSyntaxError as exc:
            errors.append(_("the template cannot be read: %(error)s") % {"error": exc})
    return errors


def _not_filled(name: str, variables: Sequence[str]) -> str:
    return _("{{ %(name)s }} is not filled for this trigger: use %(variables)s") % {
        "name": name,
        "variables": ", ".join(variables),
    }


def render(text: str, variables: dict[str, object]) -> str:
    """Render a template with the allowed variables; raise ``InvalidTemplate`` if it is not one."""
    context = Context({name: variables.get(name, "") for name in VARIABLES}, autoescape=False)
    return _checked(text).render(context).strip()


@functools.lru_cache(maxsize=512)
def _checked(text: str) -> Template:
    """The template checked and compiled once per text (a step's every SMS renders the same
    one); an invalid text raises, and is not kept."""
    errors = template_errors(text)
    if errors:
        raise InvalidTemplate(errors)
    return _ENGINE.from_string(text)
