"""Reading a bank statement CSV (銀行入金明細, SPEC 3.4): transfer date, amount and payer name per row.

Only parsing: no database. Malformed rows are reported one by one (line number + reason) and the good rows
still go through (SPEC 7); only a file that cannot be read as a whole (unknown encoding, no header row,
broken quoting, too many rows) is refused, and then nothing is imported.

Banks differ: UTF-8 (with or without BOM) or Shift_JIS (cp932); a few lines of account details may come
before the header; the header names the columns in Japanese or English; deposits and withdrawals may share
the file. Line numbers are the operator's: as Excel shows the file, the first line being 1.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _

from payments.csv_text import decode_csv_bytes
from payments.errors import PaymentError

MAX_ROWS = 50_000
MAX_AMOUNT = 2_000_000_000  # what the row's amount column holds; no transfer we book comes near it
HEADER_SEARCH_LINES = 20  # account details a bank prints above the header

DATE, AMOUNT, PAYER = "date", "amount", "payer"
WIDTH = "width"
# Accepted header names per column (compared after NFKC, case folding, spaces removed). The first two are
# shown to the operator.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    DATE: ("日付", "date", "取引日", "振込日", "入金日", "年月日", "勘定日", "transfer date", "value date"),
    AMOUNT: ("金額", "amount", "入金額", "入金金額", "振込金額", "お預り金額", "お預かり金額", "預入金額",
             "credit"),
    PAYER: ("振込依頼人", "payer", "振込依頼人名", "依頼人", "依頼人名", "振込人", "振込人名", "お振込人",
            "payer name", "remitter", "name"),
}


class UnreadableStatement(PaymentError):
    """The file as a whole cannot be read: nothing was imported."""

    code = "unreadable_statement"


@dataclass(frozen=True)
class ParsedRow:
    line: int
    transfer_date: date
    amount: int
    payer: str  # as printed (trimmed)
    raw: str


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str
    raw: str


@dataclass(frozen=True)
class ParsedStatement:
    encoding: str
    rows: tuple[ParsedRow, ...]
    errors: tuple[RowError, ...]


# --- encoding -------------------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 with or without BOM, else cp932; never a silent guess."""
    decoded = decode_csv_bytes(data)
    if decoded is None:
        raise UnreadableStatement(_("The file's encoding was not recognised: save it as UTF-8 or Shift_JIS (CSV)."))
    return decoded


def fingerprint(data: bytes) -> str:
    """SHA-256 of the exact bytes: the same file uploaded twice is recognised."""
    return hashlib.sha256(data).hexdigest()


# --- cells ----------------------------------------------------------------------------------------------

_TRIM = " \t\r\n\u3000\u00a0\u200b\ufeff"
_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_AMOUNT_NOISE = str.maketrans("", "", ",¥\\円 ")
_WHOLE_YEN = re.compile(r"(\d+)(?:\.0+)?")


def _trim(value: str) -> str:
    return value.strip(_TRIM)


def _header_key(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", _trim(name)).casefold())


_ALIAS_TO_COLUMN = {_header_key(alias): column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}


def parse_date(value: str) -> date | None:
    text = unicodedata.normalize("NFKC", _trim(value)).split(" ")[0]  # "2026/03/10 10:15" → the day
    found = _DATE_RE.fullmatch(text) or _COMPACT_DATE_RE.fullmatch(text)
    if not found:
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


def parse_amount(value: str) -> tuple[int | None, str]:
    """(yen, "") or (None, why not)."""
    text = unicodedata.normalize("NFKC", _trim(value)).translate(_AMOUNT_NOISE)
    if not text:
        return None, _("The amount is empty (a withdrawal or a note line?).")
    if text.startswith(("-", "△", "▲")):
        return None, _("The amount %(value)s is negative: not a transfer received.") % {"value": _trim(value)}
    found = _WHOLE_YEN.fullmatch(text.lstrip("+"))
    if not found:
        return None, _("The amount %(value)s is not a whole number of yen.") % {"value": _trim(value)}
    amount = int(found.group(1))
    if amount < 1:
        return None, _("The amount is ¥0: not a transfer received.")
    if amount > MAX_AMOUNT:
        return None, _("The amount %(value)s is too large.") % {"value": _trim(value)}
    return amount, ""


# --- parsing --------------------------------------------------------------------------------------------


def _map_header(cells: list[str]) -> dict[str, int] | None:
    """Column index of each field (and WIDTH: how many columns the header has), or None: not the header."""
    found: dict[str, int] = {WIDTH: len(_without_trailing_blanks(cells))}
    for index, cell in enumerate(cells):
        column = _ALIAS_TO_COLUMN.get(_header_key(cell))
        if column and column not in found:
            found[column] = index
    return found if len(found) == len(COLUMN_ALIASES) + 1 else None


def _without_trailing_blanks(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and not _trim(cells[end - 1]):
        end -= 1
    return cells[:end]


def _delimiter(text: str) -> str:
    first = next((line for line in io.StringIO(text) if line.strip(_TRIM + ",")), "")
    return "\t" if first.count("\t") > first.count(",") else ","


def _raw(cells: list[str]) -> str:
    return ",".join(_trim(cell) for cell in cells)[:500]


def parse_statement(data: bytes, *, max_rows: int = MAX_ROWS) -> ParsedStatement:
    text, encoding = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    columns: dict[str, int] | None = None
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    line = 0
    while True:
        line += 1  # one record = one row as Excel shows it
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise UnreadableStatement(_("The file is not valid CSV at line %(line)s (%(error)s). Check the "
                                        "quotation marks (\") on that line.") % {"line": line, "error": exc}) from exc
        if all(not _trim(cell) for cell in cells):
            continue
        if columns is None:
            columns = _map_header(cells)
            if columns is None and line >= HEADER_SEARCH_LINES:
                break
            continue  # the header itself, or account details above it
        if len(rows) + len(errors) >= max_rows:
            raise UnreadableStatement(_("The file has more than %(max)s rows. Split it and upload the parts one "
                                        "by one.") % {"max": f"{max_rows:,}"})
        row, reason = _row(line, cells, columns)
        if row is None:
            errors.append(RowError(line, reason, _raw(cells)))
        else:
            rows.append(row)
    if columns is None:
        raise UnreadableStatement(_(
            "No header row was found. The file needs a row naming its columns: %(columns)s.") % {
            "columns": "; ".join(" / ".join(aliases[:2]) for aliases in COLUMN_ALIASES.values())})
    if not rows and not errors:
        raise UnreadableStatement(_("The file has a header row but no transfers."))
    return ParsedStatement(encoding, tuple(rows), tuple(errors))


def _row(line: int, cells: list[str], columns: dict[str, int]) -> tuple[ParsedRow | None, str]:
    needed = max(columns[c] for c in COLUMN_ALIASES) + 1
    width, found = columns[WIDTH], len(_without_trailing_blanks(cells))
    if found > width or len(cells) < needed:
        # A row wider than the header is shifted (an unquoted comma: 5,000): none of its cells can be trusted.
        return None, _("This row has %(found)s columns but the header has %(expected)s. A value containing a comma "
                       "must be enclosed in quotation marks (\").") % {"found": found, "expected": width}
    raw_date, raw_amount, payer = (_trim(cells[columns[c]]) for c in (DATE, AMOUNT, PAYER))
    day = parse_date(raw_date)
    if day is None:
        return None, _("The date %(value)s is not a date (write it as 2026-03-10 or 2026/03/10).") % {
            "value": raw_date or "—"}
    amount, problem = parse_amount(raw_amount)
    if amount is None:
        return None, problem
    if not payer:
        return None, _("The payer name (振込依頼人) is empty.")
    if len(payer) > 200:
        return None, _("The payer name is longer than 200 characters.")
    return ParsedRow(line, day, amount, payer, _raw(cells)), ""
