"""Importing contacts from a CSV file, only with their consent proof.

Columns: ``phone``, ``first_name`` (optional), ``consent_date``, ``consent_source``,
``consent_text``. Comma or semicolon separated, UTF-8 (with or without BOM). A row without
the date, the source and the exact wording of its consent is refused, and so is a number that
said STOP: an import never overrides an opt-out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone

from optin.consent import ConsentBlocked, is_live, record_consent
from optin.contacts import get_or_create_contact
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.sites.models import Site
from retargeting.sms.phones import InvalidPhone, parse_phone

MAX_ROWS = 50_000
REQUIRED = ("phone", "consent_date", "consent_source", "consent_text")


@dataclass(frozen=True)
class RowResult:
    line: int
    phone: str
    imported: bool
    message: str


class ImportFileError(ValueError):
    """The file as a whole cannot be read."""


def read_rows(content: bytes) -> list[dict[str, str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError("the file is not UTF-8 text") from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    # newline="": the csv module reads \n, \r\n and a lone \r (old Mac exports) as line ends.
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        missing = [column for column in REQUIRED if column not in (reader.fieldnames or [])]
        if missing:
            raise ImportFileError(f"missing column(s): {', '.join(missing)}")
        for row in reader:
            rows.append({key: _cell(value) for key, value in row.items() if key})
            if len(rows) > MAX_ROWS:
                raise ImportFileError(f"more than {MAX_ROWS} rows: split the file")
    except csv.Error as exc:
        # The reader counts the lines it has finished; the faulty one is the next.
        line = reader.line_num + 1
        raise ImportFileError(f"line {line}: the file cannot be read as CSV ({exc})") from exc
    return rows


def _cell(value: str | None) -> str:
    # NUL cannot be stored (PostgreSQL refuses it in text) and never belongs in a name.
    return (value or "").replace("\x00", "").strip()


def _consent_date(value: str) -> datetime:
    for parse in (datetime.fromisoformat, lambda v: datetime.strptime(v, "%d/%m/%Y")):
        try:
            parsed = parse(value)
        except ValueError:
            continue
        if isinstance(parsed, date) and not isinstance(parsed, datetime):
            parsed = datetime.combine(parsed, time())
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
        return parsed
    raise ValueError(f"consent_date {value!r} is not a date (2025-03-31 or 31/03/2025)")


def import_row(*, site: Site, line: int, row: dict[str, str]) -> RowResult:
    raw = row.get("phone", "")
    try:
        phone = parse_phone(raw, default_region=site.country).e164
        for column in REQUIRED[1:]:
            if not row.get(column):
                raise ValueError(f"no {column}: a contact is imported only with its consent proof")
        given_at = _consent_date(row["consent_date"])
        if given_at > timezone.now():
            raise ValueError("consent_date is in the future")
    except (InvalidPhone, ValueError) as exc:
        return RowResult(line, raw, False, str(exc))
    existing = Contact.objects.filter(site=site, phone=phone).first()
    if existing and existing.consent_status == ConsentStatus.REVOKED:
        return RowResult(line, phone, False, "this number said STOP: an import cannot undo that")
    if existing and is_live(status=existing.consent_status):
        return RowResult(line, phone, False, "already a consenting contact: nothing changed")
    try:
        with transaction.atomic():
            contact, _ = get_or_create_contact(
                site=site, raw_phone=phone, first_name=row.get("first_name", "")
            )
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED,
                source=ConsentSource.CSV_IMPORT,
                at=given_at,
                text=f"{row['consent_text']}\n(source: {row['consent_source']})",
            )
    except ConsentBlocked:
        return RowResult(line, phone, False, "this number said STOP before it was erased")
    return RowResult(line, phone, True, "imported")


def import_contacts(*, site: Site, content: bytes) -> list[RowResult]:
    """Import a CSV file's rows; each row is imported or refused with its reason."""
    rows = read_rows(content)
    # Line 1 is the header.
    return [import_row(site=site, line=index, row=row) for index, row in enumerate(rows, start=2)]
