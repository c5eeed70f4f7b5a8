"""Generated CSV files: each row imported or refused with its reason; a bad file changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from optin.imports import ImportFileError, import_contacts
from optin.models import Consent, Contact
from tests.factories import SiteFactory
from tests.support.generated import SETTINGS, hostile_text

pytestmark = pytest.mark.django_db

HEADER = ["phone", "first_name", "consent_date", "consent_source", "consent_text"]
cells = st.one_of(
    hostile_text,
    st.sampled_from(
        [
            "06 12 34 56 78",
            "+33 7 52 34 56 78",
            "2025-03-31",
            "31/03/2025",
            "0001-01-01",
            "9999-12-31T23:59:59",
            "2025-03-31T10:00:00+14:00",
            "x" * 300,
            "",
        ]
    ),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=7), max_size=6)
headers = st.one_of(
    st.just(HEADER),
    st.permutations(HEADER),
    st.lists(st.sampled_from([*HEADER, "extra", ""]), max_size=6),
)


def as_csv(header, body, delimiter):
    lines = [delimiter.join(header)]
    lines += [delimiter.join(cell.replace(delimiter, " ") for cell in row) for row in body]
    return "\n".join(lines)


@pytest.fixture
def shop():
    return SiteFactory(name="Boutique", country="FR")


@SETTINGS
@given(
    header=headers,
    body=rows,
    delimiter=st.sampled_from([";", ","]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]),
)
@example(
    header=HEADER,
    body=[["06 12 34 56 78", "A\x00B", "2025-03-31", "web", "oui"]],
    delimiter=";",
    encoding="utf-8",
)
@example(
    header=HEADER,
    body=[["06 12 34 56 78", "Élise", "0001-01-01", "web", "oui"]],
    delimiter=";",
    encoding="utf-8",
)
@example(
    header=HEADER,
    body=[["06 12 34 56 78", "x" * 300, "2025-03-31", "web", "o\x00ui"]],
    delimiter=";",
    encoding="utf-8",
)
def test_each_row_is_imported_or_refused_and_a_bad_file_changes_nothing(
    shop, header, body, delimiter, encoding
):
    content = as_csv(header, body, delimiter).encode(encoding, errors="replace")
    contacts, consents = Contact.objects.count(), Consent.objects.count()
    try:
        results = import_contacts(site=shop, content=content)
    except ImportFileError as error:
        assert str(error)
        assert (Contact.objects.count(), Consent.objects.count()) == (contacts, consents)
        return
    imported = [result for result in results if result.imported]
    for result in results:
        assert result.message
    # Every imported row left exactly one contact with one consent; refused rows left nothing.
    assert Consent.objects.count() - consents == len(imported)
    assert Contact.objects.count() - contacts == len({result.phone for result in imported})
