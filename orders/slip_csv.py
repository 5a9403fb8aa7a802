"""Reading a 伝票番号一括登録 upload (SPEC 3.2 "capture three ways", seed 002): a CSV of order number →
shipping slip number that marks those orders shipped and captures them.

This module only parses and validates the file. No database, no gateway: the upload step looks the
orders up and captures them, and hands its per-row outcome back to report_csv(). Malformed rows are
reported one by one and the good rows still go through (SPEC 7); only a file that cannot be read
safely as a whole (unknown encoding, no usable header, broken quoting, too many rows) is refused.

Line numbers are the operator's: row numbers as Excel shows the file, the header being line 1, blank
rows counted, a quoted multi-line cell counted once.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.db.models import TextChoices
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments.csv_text import decode_csv_bytes

__all__ = [
    "COLUMN_ALIASES",
    "MAX_ROWS",
    "ReportEntry",
    "ReportResult",
    "RowCode",
    "RowError",
    "SlipParseResult",
    "SlipRow",
    "file_fingerprint",
    "normalize_slip_number",
    "parse_slip_csv",
    "report_csv",
]

MAX_ROWS = 50_000
SLIP_DIGITS_MIN, SLIP_DIGITS_MAX = 6, 20

ORDER_NUMBER, CARRIER, SLIP_NUMBER = "order_number", "carrier", "slip_number"
# Header names accepted for each column, matched after normalisation (_header_key). The first one is
# the name shown to the operator when the column is missing.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    ORDER_NUMBER: ("受注番号", "注文番号", "order_number", "order"),
    CARRIER: ("配送業者", "運送会社", "carrier"),
    SLIP_NUMBER: ("伝票番号", "送り状番号", "slip_number", "tracking_number"),
}
REQUIRED = (ORDER_NUMBER, SLIP_NUMBER)


class RowCode:
    MISSING_ORDER_NUMBER = "missing_order_number"
    MISSING_SLIP_NUMBER = "missing_slip_number"
    BAD_SLIP_NUMBER = "bad_slip_number"
    TOO_MANY_COLUMNS = "too_many_columns"
    TOO_FEW_COLUMNS = "too_few_columns"
    DUPLICATE_IN_FILE = "duplicate_in_file"


class ReportResult(TextChoices):
    CAPTURED = "captured", gettext_lazy("Captured now")  # 売上処理完了
    ALREADY_CAPTURED = "already_captured", gettext_lazy("Already captured")  # 売上処理済み
    NOT_CAPTURABLE = "not_capturable", gettext_lazy("Not capturable")  # 売上処理不可
    UNKNOWN_ORDER = "unknown_order", gettext_lazy("Unknown order")  # 該当注文なし
    MALFORMED = "malformed", gettext_lazy("Error in row")  # 入力エラー
    DUPLICATE = "duplicate", gettext_lazy("Duplicate in file")  # ファイル内で重複


@dataclass(frozen=True)
class SlipRow:
    line: int
    order_number: str
    carrier: str
    slip_number: str  # normalised: half-width digits and "-"


@dataclass(frozen=True)
class RowError:
    line: int
    code: str  # RowCode
    message: str
    # What the row held (trimmed), so the report can show it next to the error.
    order_number: str = ""
    slip_number: str = ""


@dataclass(frozen=True)
class SlipParseResult:
    rows: tuple[SlipRow, ...] = ()
    errors: tuple[RowError, ...] = ()
    file_error: str | None = None
    encoding: str | None = None  # "utf-8-sig", "utf-8" or "cp932"; None when not recognised


# --- normalisation --------------------------------------------------------------------------------------

_TRIM = " \t\r\n\u3000\u00a0\u200b\ufeff"
_FULLWIDTH_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}  # ！..～ → !..~
# Hyphen look-alikes typed in Japanese input mode, including ー (長音符) and its half-width ｰ.
_HYPHENS = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\u30fc\uff70\ufe63"), "-")
_SLIP_TABLE = {**{0xFF10 + d: 0x30 + d for d in range(10)}, **_HYPHENS}
_SLIP_RE = re.compile(r"[0-9]+(?:-[0-9]+)*")
# 1.23457E+11: what Excel writes for a long number in a column not formatted as text.
_EXCEL_EXPONENT = re.compile(r"[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+")


def _trim(value: str) -> str:
    return value.strip(_TRIM)


def _normalize_order_number(value: str) -> str:
    return _trim(value).translate(_FULLWIDTH_ASCII)


def normalize_slip_number(value: str) -> str:
    """Full-width digits and hyphen look-alikes to half-width; surrounding spaces removed."""
    return _trim(value).translate(_SLIP_TABLE)


def _slip_number_problem(slip: str) -> str | None:
    """Why a normalised slip number is not acceptable, or None."""
    digits = sum(ch.isascii() and ch.isdigit() for ch in slip)
    if _SLIP_RE.fullmatch(slip) and SLIP_DIGITS_MIN <= digits <= SLIP_DIGITS_MAX:
        return None
    if _EXCEL_EXPONENT.fullmatch(slip):
        return _("The slip number %(value)s was turned into a number by Excel. Format the column as text, "
                 "type the numbers again and save the CSV again.") % {"value": slip}
    return _("The slip number %(value)s is not valid: it must have %(min)s to %(max)s digits, optionally "
             "separated by hyphens.") % {"value": slip, "min": SLIP_DIGITS_MIN, "max": SLIP_DIGITS_MAX}


def _header_key(name: str) -> str:
    key = unicodedata.normalize("NFKC", _trim(name)).casefold()
    return re.sub(r"[\s\-]+", "_", key)


_ALIAS_TO_FIELD = {_header_key(alias): field for field, aliases in COLUMN_ALIASES.items() for alias in aliases}


def _is_blank(cells: list[str]) -> bool:
    return all(not _trim(cell) for cell in cells)


def _drop_trailing_blanks(cells: list[str], keep: int = 0) -> list[str]:
    end = len(cells)
    while end > keep and not _trim(cells[end - 1]):
        end -= 1
    return cells[:end]


# --- parsing --------------------------------------------------------------------------------------------


def _map_header(header: list[str]) -> tuple[dict[str, int], str | None]:
    """Column index of each known field, or a file-level error."""
    found: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        field = _ALIAS_TO_FIELD.get(_header_key(name))
        if field:
            found.setdefault(field, []).append(index)
    for field, indexes in found.items():
        if len(indexes) > 1:
            return {}, _("Columns %(columns)s all mean the same thing (%(field)s); keep only one of them.") % {
                "columns": ", ".join(_trim(header[i]) for i in indexes), "field": COLUMN_ALIASES[field][0]}
    missing = [field for field in REQUIRED if field not in found]
    if missing:
        return {}, _("Required columns are missing: %(columns)s. The first row must be a header row; it "
                     "reads: %(found)s.") % {
            "columns": "; ".join(" / ".join(COLUMN_ALIASES[field]) for field in missing),
            "found": ", ".join(_trim(cell) for cell in header)}
    return {field: indexes[0] for field, indexes in found.items()}, None


def _delimiter(text: str) -> str:
    first = next((line for line in io.StringIO(text) if line.strip(_TRIM + ",")), "")
    return "\t" if first.count("\t") > first.count(",") else ","


def parse_slip_csv(data: bytes, *, max_rows: int = MAX_ROWS) -> SlipParseResult:
    """Parse an uploaded 伝票番号一括登録 file: valid rows, per-row errors, or one file-level error."""
    decoded = decode_csv_bytes(data)
    if decoded is None:
        return SlipParseResult(file_error=_("Encoding not recognised: save as UTF-8 or Shift_JIS."))
    text, encoding = decoded

    def refuse(message: str) -> SlipParseResult:
        return SlipParseResult(file_error=message, encoding=encoding)

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: list[SlipRow] = []
    errors: list[RowError] = []
    columns: dict[str, int] | None = None
    width = 0
    data_rows = 0
    first_seen: dict[str, tuple[int, bool]] = {}  # order number → (line, that row was valid)
    line = 0
    while True:
        line += 1  # one record = one Excel row
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            return refuse(_("The file is not valid CSV at line %(line)s (%(error)s). Check the quotation "
                            "marks (\") on that line.") % {"line": line, "error": exc})
        if _is_blank(cells):
            continue  # empty line: skipped, not an error
        if columns is None:
            header = _drop_trailing_blanks(cells)
            columns, problem = _map_header(header)
            if problem:
                return refuse(problem)
            width = len(header)
            continue
        data_rows += 1
        if data_rows > max_rows:
            return refuse(_("The file has more than %(max)s rows. Split it into smaller files and upload them "
                            "one by one.") % {"max": f"{max_rows:,}"})
        cells = _drop_trailing_blanks(cells, keep=width)
        row, error = _check_row(line, cells, width, columns, first_seen)
        if row:
            rows.append(row)
        if error:
            errors.append(error)
        order = row.order_number if row else error.order_number
        if order and order not in first_seen:
            first_seen[order] = (line, row is not None)

    if columns is None:
        return refuse(_("The file is empty."))
    if not data_rows:
        return refuse(_("The file has a header row but no data rows."))
    return SlipParseResult(rows=tuple(rows), errors=tuple(errors), encoding=encoding)


def _check_row(line: int, cells: list[str], width: int, columns: dict[str, int],
               first_seen: dict[str, tuple[int, bool]]) -> tuple[SlipRow | None, RowError | None]:
    def cell(field: str) -> str:
        index = columns.get(field)
        return cells[index] if index is not None and index < len(cells) else ""

    order = _normalize_order_number(cell(ORDER_NUMBER))
    slip_raw = _trim(cell(SLIP_NUMBER))

    def error(code: str, message: str) -> tuple[None, RowError]:
        return None, RowError(line, code, message, order_number=order, slip_number=slip_raw)

    if len(cells) != width:
        # A ragged row is usually shifted (an unquoted comma in a value): none of its cells can be trusted.
        code = RowCode.TOO_MANY_COLUMNS if len(cells) > width else RowCode.TOO_FEW_COLUMNS
        message = _("This row has %(found)s columns but the header has %(expected)s. A value containing a comma "
                    "must be enclosed in quotation marks (\").") % {"found": len(cells), "expected": width}
        return error(code, message)
    if not order:
        return error(RowCode.MISSING_ORDER_NUMBER, _("The order number is empty."))
    if order in first_seen:
        first_line, first_ok = first_seen[order]
        if first_ok:
            message = _("Order %(order)s is already on line %(line)s; only that first row is used.")
        else:
            message = _("Order %(order)s is already on line %(line)s, which has an error. Correct the file so "
                        "that the order appears once, then upload it again.")
        return error(RowCode.DUPLICATE_IN_FILE, message % {"order": order, "line": first_line})
    if not slip_raw:
        return error(RowCode.MISSING_SLIP_NUMBER, _("The slip number is empty."))
    slip = normalize_slip_number(slip_raw)
    problem = _slip_number_problem(slip)
    if problem:
        return error(RowCode.BAD_SLIP_NUMBER, problem)
    return SlipRow(line, order, _trim(cell(CARRIER)), slip), None


# --- report and fingerprint -----------------------------------------------------------------------------


class ReportLine(Protocol):
    line: int
    order_number: str
    slip_number: str
    result: str
    message: str


@dataclass(frozen=True)
class ReportEntry:
    line: int
    order_number: str
    slip_number: str
    result: str  # ReportResult
    message: str = ""

    @classmethod
    def from_error(cls, error: RowError) -> ReportEntry:
        result = ReportResult.DUPLICATE if error.code == RowCode.DUPLICATE_IN_FILE else ReportResult.MALFORMED
        return cls(error.line, error.order_number, error.slip_number, result, error.message)


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula would be evaluated by Excel: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _result_label(result) -> str:
    return str(ReportResult(result).label) if result in ReportResult.values else str(result)


def report_csv(entries: Iterable[ReportLine]) -> bytes:
    """The per-row report the operator downloads: UTF-8 with a BOM so that Excel reads the Japanese."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("line no."), _("order number"), _("shipping slip number"), _("result"), _("message")])
    for entry in sorted(entries, key=lambda e: e.line):
        writer.writerow([entry.line, _cell(entry.order_number), _cell(entry.slip_number),
                         _cell(_result_label(entry.result)), _cell(entry.message)])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def file_fingerprint(data: bytes) -> str:
    """sha256 of the exact bytes, to recognise the same file uploaded twice."""
    return hashlib.sha256(data).hexdigest()
