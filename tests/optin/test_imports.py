"""CSV import of contacts: only with consent proof, row by row."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from optin.consent import record_consent
from optin.imports import ImportFileError, import_contacts
from optin.models import ConsentSource, ConsentStatus, Contact
from tests.factories import ContactFactory, SiteFactory

pytestmark = pytest.mark.django_db
HEADER = "phone;first_name;consent_date;consent_source;consent_text\n"


@pytest.fixture
def shop():
    return SiteFactory(name="Boutique")


def run(shop, body, header=HEADER):
    return import_contacts(site=shop, content=(header + body).encode("utf-8-sig"))


def test_rows_with_their_proof_are_imported_with_the_original_date(shop):
    results = run(shop, "06 12 34 56 78;Élise;31/03/2025;caisse magasin;J'accepte les SMS\n")
    assert [(r.line, r.imported, r.message) for r in results] == [(2, True, "imported")]
    contact = Contact.objects.get()
    assert (contact.phone, contact.first_name, contact.consent_status) == (
        "+33612345678",
        "Élise",
        "granted",
    )
    consent = contact.consents.get()
    assert (consent.source, consent.created_at.date().isoformat()) == ("csv_import", "2025-03-31")
    assert consent.text == "J'accepte les SMS\n(source: caisse magasin)"


def test_each_refused_row_says_why_and_the_others_are_imported(shop):
    revoked = ContactFactory(site=shop, phone="+33612345670")
    record_consent(contact=revoked, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    results = run(
        shop,
        "\n".join(
            [
                "06 12 34 56 71;A;2025-01-02;web;Oui aux SMS",
                "06 12 34 56 72;B;;web;Oui aux SMS",
                "06 12 34 56 73;C;2025-01-02;;Oui aux SMS",
                "06 12 34 56 74;D;2025-01-02;web;",
                "01 23 45 67 89;E;2025-01-02;web;Oui aux SMS",
                "06 12 34 56 75;F;hier;web;Oui aux SMS",
                "06 12 34 56 76;G;2099-01-01;web;Oui aux SMS",
                "06 12 34 56 70;H;2025-01-02;web;Oui aux SMS",
                "06 12 34 56 71;A;2025-01-02;web;Oui aux SMS",
            ]
        )
        + "\n",
    )
    outcome = {r.line: (r.imported, r.message) for r in results}
    assert outcome[2] == (True, "imported")
    assert "no consent_date" in outcome[3][1]
    assert "no consent_source" in outcome[4][1]
    assert "no consent_text" in outcome[5][1]
    assert "not a mobile number" in outcome[6][1]
    assert "is not a date" in outcome[7][1]
    assert "in the future" in outcome[8][1]
    assert "said STOP" in outcome[9][1]
    assert "already a consenting contact" in outcome[10][1]
    assert Contact.objects.filter(consent_status="granted").count() == 1
    assert Contact.objects.get(phone="+33612345670").consent_status == "revoked"


def test_commas_work_as_well_as_semicolons(shop):
    results = run(shop, "+33612345678,,2025-01-02,web,ok\n", header=HEADER.replace(";", ","))
    assert results[0].imported


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"phone;first_name\n0612345678;A\n", "missing column(s): consent_date"),
        ("é".encode("latin-1") * 10, "not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(shop, content, message):
    with pytest.raises(ImportFileError, match=re.escape(message)):
        import_contacts(site=shop, content=content)
    assert not Contact.objects.exists()


def test_the_admin_page_imports_and_reports_row_by_row(admin_client, shop):
    assert "Import contacts (CSV)" in admin_client.get("/admin/optin/contact/").content.decode()
    upload = SimpleUploadedFile(
        "contacts.csv",
        (HEADER + "0612345678;A;2025-01-02;web;ok\n0612;B;2025-01-02;web;ok\n").encode(),
    )
    response = admin_client.post("/admin/optin/contact/import/", {"site": shop.pk, "file": upload})
    body = response.content.decode()
    assert response.status_code == 200
    assert "1 imported" in body and "not a valid number" in body
    assert Contact.objects.count() == 1


def test_a_number_erased_after_a_stop_cannot_be_imported_again(shop):
    from optin.erasure import erase_contact

    contact = ContactFactory(site=shop, phone="+33612345678")
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN)
    record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    erase_contact(site=shop, raw_phone="+33612345678")
    (result,) = run(shop, "06 12 34 56 78;A;2025-01-02;web;Oui aux SMS\n")
    assert not result.imported and "said STOP before it was erased" in result.message
    assert not Contact.objects.filter(consent_status="granted").exists()


def test_a_file_with_old_mac_line_ends_is_read_row_by_row(shop):
    content = HEADER + "06 12 34 56 78;A;2025-01-02;web;Oui\r06 12 34 56 79;B;2025-01-02;web;Oui\r"
    results = import_contacts(site=shop, content=content.replace("\n", "\r").encode())
    assert [(r.line, r.imported) for r in results] == [(2, True), (3, True)]


def test_a_file_the_csv_reader_cannot_read_is_refused_whole_with_its_line(shop):
    huge = "x" * 200_000  # over the reader's field size limit
    with pytest.raises(ImportFileError, match=r"^line 3: the file cannot be read as CSV"):
        run(
            shop, f"06 12 34 56 78;A;2025-01-02;web;Oui\n06 12 34 56 79;{huge};2025-01-02;web;Oui\n"
        )
    assert not Contact.objects.exists()


def test_nul_characters_are_dropped_from_cells(shop):
    (result,) = run(shop, "06 12 34 56 78;É\x00lise;2025-01-02;web;Oui\x00 aux SMS\n")
    assert result.imported
    contact = Contact.objects.get()
    assert contact.first_name == "Élise"
    assert contact.consents.get().text.startswith("Oui aux SMS")
