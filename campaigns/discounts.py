"""Pools of unique discount codes: imported from the shop's CSV, handed out one per send."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from django.db import transaction

from campaigns.models import DiscountCode, Step

LOW_POOL = 20
_CODE = re.compile(r"[A-Za-z0-9_\-.]{1,64}")  # fullmatch: "$" takes a final "\n"


class ImportFileError(ValueError):
    """A file that cannot be read as codes at all."""


@dataclass
class CodeImport:
    added: int = 0
    duplicates: int = 0
    invalid: list[str] | None = None


def import_codes(*, step: Step, content: bytes) -> CodeImport:
    """Add the codes of a CSV file (the first column; a header row is skipped) to the pool.

    Codes already in the pool are counted as duplicates and left as they are (a code handed
    out stays handed out). A code with characters other than letters, digits, ``-``, ``_`` and
    ``.`` is refused: it would not survive being typed from an SMS.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError("the file is not UTF-8 text") from exc
    rows = csv.reader(io.StringIO(text), delimiter=";" if ";" in text.split("\n", 1)[0] else ",")
    seen: dict[str, None] = {}
    invalid: list[str] = []
    for index, row in enumerate(rows):
        value = row[0].strip() if row else ""
        if not value or (index == 0 and value.lower() in ("code", "codes", "discount_code")):
            continue
        if not _CODE.fullmatch(value):
            invalid.append(value[:80])
            continue
        seen.setdefault(value, None)
    if not seen and not invalid:
        raise ImportFileError("the file has no codes")
    result = CodeImport(invalid=invalid)
    pool = DiscountCode.objects.filter(step=step)
    with transaction.atomic():
        before = pool.count()
        # A code already in the pool is left as it is (the unique pair refuses it).
        DiscountCode.objects.bulk_create(
            (DiscountCode(step=step, code=code) for code in seen),
            batch_size=1000,
            ignore_conflicts=True,
        )
        result.added = pool.count() - before
    result.duplicates = len(seen) - result.added
    return result


def free_codes(step: Step) -> int:
    return DiscountCode.objects.filter(step=step, assigned_at__isnull=True).count()
