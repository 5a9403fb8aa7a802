"""伝票番号一括登録 parsing (SPEC 3.2, 7): pure, no database, no gateway."""

from __future__ import annotations

import codecs
import csv
import io
import random
from types import SimpleNamespace

import pytest
from django.utils import translation

from orders.slip_csv import (
    ReportEntry,
    ReportResult,
    RowCode,
    RowError,
    SlipRow,
    file_fingerprint,
    normalize_slip_number,
    parse_slip_csv,
    report_csv,
)

# Shift_JIS as Japanese Excel writes it is CP932 (it has ㈱, ①, ～); plain Shift_JIS is tested on its own.
ENCODINGS = [("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8"), ("cp932", "cp932")]


def parse(text: str, encoding: str = "utf-8", **kwargs):
    return parse_slip_csv(text.encode(encoding), **kwargs)


def codes(result) -> list[tuple[int, str]]:
    return [(e.line, e.code) for e in result.errors]


pytestmark = pytest.mark.usefixtures("english")  # the messages' English wording


# --- a generated 1,000-row file -----------------------------------------------------------------------------

CARRIERS = ["ヤマト運輸", "佐川急便", "日本郵便", "㈱西濃運輸", ""]  # ㈱: CP932, not plain Shift_JIS
FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def generate(n: int = 1000, seed: int = 20261123):
    """CSV text with n lines below the header, and what the parser must make of it."""
    rng = random.Random(seed)
    lines = ["受注番号,配送業者,伝票番号,備考"]
    rows: list[SlipRow] = []
    errors: list[tuple[int, str]] = []
    good_orders: list[str] = []
    kinds = ["good", "unknown", "dup", "bad", "many", "few", "blank", "missing_slip", "missing_order"]
    for i in range(n):
        line = i + 2
        kind = rng.choices(kinds, weights=[55, 8, 8, 8, 4, 4, 7, 3, 3])[0]
        if kind == "dup" and not good_orders:
            kind = "good"
        order = f"2026{i:07d}"
        carrier = rng.choice(CARRIERS)
        digits = "".join(rng.choice("0123456789") for _ in range(12))
        slip = rng.choice([digits, f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"])
        written = slip.translate(FULLWIDTH) if rng.random() < 0.2 else slip
        if kind in ("good", "unknown"):
            if kind == "unknown":  # well-formed, just not an order of ours: valid at parse time
                order = f"ZZ-{rng.randrange(10**8):08d}"
                while order in good_orders:
                    order += "9"
            lines.append(f"{order},{carrier},{written},")
            rows.append(SlipRow(line, order, carrier, slip))
            good_orders.append(order)
        elif kind == "dup":
            lines.append(f"{rng.choice(good_orders)},{carrier},{written},二重")
            errors.append((line, RowCode.DUPLICATE_IN_FILE))
        elif kind == "bad":
            lines.append(f"{order},{carrier},{rng.choice(['12345', 'ABC-123456', '1.23457E+11', '1' * 21])},")
            errors.append((line, RowCode.BAD_SLIP_NUMBER))
        elif kind == "many":
            lines.append(f"{order},ヤマト,運輸,{written},メモ")
            errors.append((line, RowCode.TOO_MANY_COLUMNS))
        elif kind == "few":
            lines.append(f"{order},{written}")
            errors.append((line, RowCode.TOO_FEW_COLUMNS))
        elif kind == "missing_slip":
            lines.append(f"{order},{carrier},　,")
            errors.append((line, RowCode.MISSING_SLIP_NUMBER))
        elif kind == "missing_order":
            lines.append(f" ,{carrier},{written},")
            errors.append((line, RowCode.MISSING_ORDER_NUMBER))
        else:
            lines.append(rng.choice(["", ",,,", " , ,　,"]))
    return "\r\n".join(lines) + "\r\n", rows, errors


GENERATED, GENERATED_ROWS, GENERATED_ERRORS = generate()


def test_generated_file_has_every_kind_of_row():
    found = {code for _, code in GENERATED_ERRORS}
    assert found == {RowCode.DUPLICATE_IN_FILE, RowCode.BAD_SLIP_NUMBER, RowCode.TOO_MANY_COLUMNS,
                     RowCode.TOO_FEW_COLUMNS, RowCode.MISSING_SLIP_NUMBER, RowCode.MISSING_ORDER_NUMBER}
    assert len(GENERATED.splitlines()) == 1001
    assert any(r.order_number.startswith("ZZ-") for r in GENERATED_ROWS)
    assert "\r\n\r\n" in GENERATED or "\r\n,,,\r\n" in GENERATED


@pytest.mark.parametrize("codec,detected", ENCODINGS)
def test_generated_file_in_each_encoding(codec, detected):
    result = parse_slip_csv(GENERATED.encode(codec))
    assert result.file_error is None
    assert result.encoding == detected
    assert list(result.rows) == GENERATED_ROWS
    assert codes(result) == GENERATED_ERRORS


def test_the_three_encodings_give_identical_results():
    results = [parse_slip_csv(GENERATED.encode(codec)) for codec in ("utf-8-sig", "utf-8", "cp932")]
    assert results[0].rows == results[1].rows == results[2].rows
    assert results[0].errors == results[1].errors == results[2].errors
    assert len(results[0].rows) + len(results[0].errors) < 1000  # the blank lines were skipped


# --- headers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    "受注番号,配送業者,伝票番号",
    "注文番号,運送会社,送り状番号",
    "order_number,carrier,slip_number",
    "Order,Carrier,Tracking_Number",
    " ORDER_NUMBER ,　Carrier　,\tSlip_Number",
    "Order Number,carrier,tracking-number",
    "ｏｒｄｅｒ＿ｎｕｍｂｅｒ,carrier,slip_number",
])
def test_japanese_and_english_headers(header):
    result = parse(f"{header}\nA-1,ヤマト運輸,1234-5678-9012\n")
    assert result.file_error is None
    assert result.rows == (SlipRow(2, "A-1", "ヤマト運輸", "1234-5678-9012"),)


def test_columns_in_any_order_extra_columns_ignored_carrier_optional():
    result = parse("備考,伝票番号,顧客名,受注番号\nメモ,123456789012,山田,A-1\n")
    assert result.rows == (SlipRow(2, "A-1", "", "123456789012"),)


@pytest.mark.parametrize("header,missing", [
    ("受注番号,配送業者", ["伝票番号"]),
    ("配送業者,伝票番号", ["受注番号"]),
    ("配送業者,備考", ["受注番号", "伝票番号"]),
])
def test_missing_required_columns_is_a_file_error_naming_them(header, missing):
    result = parse(f"{header}\nA-1,123456789012\n")
    assert result.rows == () and result.errors == ()
    assert "missing" in result.file_error
    for name in missing:
        assert name in result.file_error
    assert "配送業者 /" not in result.file_error  # the optional carrier is never demanded


def test_file_without_a_header_row_is_refused_and_shows_what_it_read():
    result = parse("A-1,ヤマト運輸,123456789012\n")
    assert "A-1, ヤマト運輸, 123456789012" in result.file_error


def test_two_columns_meaning_the_same_is_a_file_error():
    result = parse("受注番号,注文番号,伝票番号\nA-1,A-2,123456789012\n")
    assert result.rows == ()
    assert "受注番号, 注文番号" in result.file_error


def test_tab_separated():
    result = parse("受注番号\t配送業者\t伝票番号\nA-1\t佐川急便, 東京\t1234-5678-9012\n")
    assert result.rows == (SlipRow(2, "A-1", "佐川急便, 東京", "1234-5678-9012"),)


def test_quoted_values_and_multiline_cells_count_as_one_excel_row():
    text = '受注番号,伝票番号,備考\n"A-1","123456789012","二行の\n備考"\nA-2,12345,\n'
    result = parse(text)
    assert result.rows == (SlipRow(2, "A-1", "", "123456789012"),)
    assert codes(result) == [(3, RowCode.BAD_SLIP_NUMBER)]


# --- encodings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    "受注番号,伝票番号\nA-1,123456789012\n".encode("utf-16-le"),  # UTF-16 without BOM, Japanese
    "order_number,slip_number\nA-1,123456789012\n".encode("utf-16-le"),  # ASCII in UTF-16: NUL bytes
    "受注番号,伝票番号\nA-1,123456789012\n".encode("utf-16"),  # with its BOM: still not UTF-8 / CP932
    "受注番号,伝票番号\nA-1,123456789012\n".encode("euc-jp"),
    codecs.BOM_UTF8 + "受注番号,伝票番号\n".encode("cp932"),  # a UTF-8 BOM in front of Shift_JIS
    random.Random(1).randbytes(4096),
    bytes(range(256)),
])
def test_neither_utf8_nor_cp932_is_a_file_error(data):
    result = parse_slip_csv(data)
    assert result.file_error == "Encoding not recognised: save as UTF-8 or Shift_JIS."
    assert result.encoding is None
    assert result.rows == () and result.errors == ()


def test_plain_shift_jis():
    # Python's shift_jis writes the full-width minus (0x817C) from U+2212; CP932 reads it back as U+FF0D.
    result = parse("受注番号,配送業者,伝票番号\nA-1,ヤマト運輸,１２３４\u2212５６７８\u2212９０１２\n", "shift_jis")
    assert result.encoding == "cp932"
    assert result.rows == (SlipRow(2, "A-1", "ヤマト運輸", "1234-5678-9012"),)


def test_cp932_only_characters_are_read():
    result = parse("受注番号,配送業者,伝票番号\nA-1,㈱ヤマト～①,123456789012\n", "cp932")
    assert result.encoding == "cp932"
    assert result.rows[0].carrier == "㈱ヤマト～①"


def test_ascii_only_file_reads_as_utf8():
    result = parse("order,slip_number\nA-1,123456789012\n", "ascii")
    assert result.encoding == "utf-8"
    assert len(result.rows) == 1


# --- values ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("written,normalised", [
    ("１２３４－５６７８－９０１２", "1234-5678-9012"),
    ("１２３４ー５６７８ー９０１２", "1234-5678-9012"),  # ー typed for a hyphen
    ("1234ｰ5678‐9012", "1234-5678-9012"),
    ("1234−5678–9012", "1234-5678-9012"),
    ("　123456789012　", "123456789012"),
    ("123456", "123456"),
    ("1" * 20, "1" * 20),
    ("1234-5678-9012-3456-7890", "1234-5678-9012-3456-7890"),
])
def test_slip_numbers_normalised(written, normalised):
    assert normalize_slip_number(written) == normalised
    result = parse(f"受注番号,伝票番号\nA-1,{written}\n")
    assert result.rows == (SlipRow(2, "A-1", "", normalised),)


@pytest.mark.parametrize("written", [
    "12345", "1" * 21, "1234-5678-9012-3456-78901", "1234a5678", "-123456", "123456-", "1234--5678",
    "1234 5678 9012", "①２３４５６", "1.23457E+11",
])
def test_bad_slip_numbers(written):
    result = parse(f"受注番号,伝票番号\nA-1,{written}\n")
    assert result.rows == ()
    [error] = result.errors
    assert (error.line, error.code, error.order_number, error.slip_number) == (
        2, RowCode.BAD_SLIP_NUMBER, "A-1", written)


def test_excel_exponent_gets_its_own_explanation():
    [error] = parse("受注番号,伝票番号\nA-1,1.23457E+11\n").errors
    assert "Excel" in error.message and "text" in error.message


def test_cells_trimmed_including_full_width_spaces_and_order_numbers_half_width():
    result = parse("受注番号,配送業者,伝票番号\n　Ａ－１２　, ヤマト運輸\u3000,\t123456789012 \n")
    assert result.rows == (SlipRow(2, "A-12", "ヤマト運輸", "123456789012"),)


def test_missing_values():
    result = parse("受注番号,伝票番号\n　,123456789012\nA-2,\u3000\n")
    assert codes(result) == [(2, RowCode.MISSING_ORDER_NUMBER), (3, RowCode.MISSING_SLIP_NUMBER)]


# --- rows -----------------------------------------------------------------------------------------------


def test_ragged_rows():
    text = "受注番号,配送業者,伝票番号\nA-1,ヤマト,運輸,123456789012\nA-2,123456789012\nA-3,佐川急便,123456789\n"
    result = parse(text)
    assert codes(result) == [(2, RowCode.TOO_MANY_COLUMNS), (3, RowCode.TOO_FEW_COLUMNS)]
    assert [r.order_number for r in result.rows] == ["A-3"]
    assert "4 columns but the header has 3" in result.errors[0].message


def test_trailing_empty_cells_are_not_ragged():
    result = parse("受注番号,伝票番号,,\nA-1,123456789012\nA-2,123456789013,,,\n")
    assert result.errors == ()
    assert [r.line for r in result.rows] == [2, 3]


def test_duplicates_first_occurrence_wins():
    text = "受注番号,伝票番号\nA-1,111111111111\nA-2,222222222222\nA-1,333333333333\nＡ-1,111111111111\n"
    result = parse(text)
    assert result.rows == (SlipRow(2, "A-1", "", "111111111111"), SlipRow(3, "A-2", "", "222222222222"))
    assert codes(result) == [(4, RowCode.DUPLICATE_IN_FILE), (5, RowCode.DUPLICATE_IN_FILE)]
    assert "line 2" in result.errors[0].message and "only that first row is used" in result.errors[0].message


def test_duplicate_of_a_malformed_row_is_not_processed_either():
    result = parse("受注番号,伝票番号\nA-1,12345\nA-1,123456789012\n")
    assert result.rows == ()
    assert codes(result) == [(2, RowCode.BAD_SLIP_NUMBER), (3, RowCode.DUPLICATE_IN_FILE)]
    assert "has an error" in result.errors[1].message


def test_blank_lines_skipped_but_counted_in_line_numbers():
    text = "\n受注番号,伝票番号\n\nA-1,123456789012\n,\n　\nA-2,123456\n"
    result = parse(text)
    assert result.errors == ()
    assert [r.line for r in result.rows] == [4, 7]


def test_old_mac_line_endings():
    result = parse("受注番号,伝票番号\rA-1,123456789012\rA-2,123456\r")
    assert [r.line for r in result.rows] == [2, 3]


@pytest.mark.parametrize("text,message", [
    ("", "empty"),
    ("\n\n,,\n", "empty"),
    ("受注番号,伝票番号\n", "no data rows"),
    ("受注番号,伝票番号\n\n,\n", "no data rows"),
])
def test_empty_files(text, message):
    assert message in parse(text).file_error


def test_unclosed_quote_is_a_file_error_not_a_silent_loss_of_rows():
    result = parse('受注番号,伝票番号\nA-1,123456789012\nA-2,"123456\nA-3,123456789012\n')
    assert result.rows == ()
    assert "line 3" in result.file_error


@pytest.mark.parametrize("blank_lines", [0, 3])
def test_max_rows(blank_lines):
    body = "".join(f"A-{i},{100000 + i}\n" + "\n" * blank_lines for i in range(10))
    ok = parse("受注番号,伝票番号\n" + body, max_rows=10)
    assert ok.file_error is None and len(ok.rows) == 10
    over = parse("受注番号,伝票番号\n" + body + "A-99,123456\n", max_rows=10)
    assert over.rows == () and over.errors == ()
    assert "more than 10 rows" in over.file_error


def test_default_max_rows_is_50000():
    body = "".join(f"A-{i},{100000 + i}\n" for i in range(50_001))
    assert parse("受注番号,伝票番号\n" + body).file_error
    assert parse("受注番号,伝票番号\n" + body.rsplit("A-50000,", 1)[0]).file_error is None


# --- report ---------------------------------------------------------------------------------------------


def read_report(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_report_is_utf8_with_bom_and_round_trips_japanese():
    entries = [
        ReportEntry(3, "受注-1", "1234-5678-9012", ReportResult.CAPTURED, "実売上しました"),
        ReportEntry(2, "A-2", "", ReportResult.UNKNOWN_ORDER, "注文が見つかりません, 再確認"),
        SimpleNamespace(line=4, order_number="A-3", slip_number="123456", result="not_capturable",
                        message="仮売上の期限切れ\n再オーソリしてください"),
        SimpleNamespace(line=5, order_number="A-4", slip_number="123456", result="custom", message=""),
    ]
    rows = read_report(report_csv(entries))
    assert rows[0] == ["line no.", "order number", "shipping slip number", "result", "message"]
    assert rows[1:] == [
        ["2", "A-2", "", "Unknown order", "注文が見つかりません, 再確認"],
        ["3", "受注-1", "1234-5678-9012", "Captured now", "実売上しました"],
        ["4", "A-3", "123456", "Not capturable", "仮売上の期限切れ\n再オーソリしてください"],
        ["5", "A-4", "123456", "custom", ""],
    ]


def test_report_labels_in_japanese():
    with translation.override("ja"):
        rows = read_report(report_csv([ReportEntry(2, "A-1", "123456", ReportResult.CAPTURED)]))
    assert rows[0][1:5] == ["受注番号", "伝票番号", "結果", "メッセージ"]


def test_report_keeps_formulas_as_text():
    rows = read_report(report_csv([ReportEntry(2, "=HYPERLINK(\"x\")", "-123", ReportResult.MALFORMED, "@x")]))
    assert rows[1][1:3] == ["'=HYPERLINK(\"x\")", "'-123"] and rows[1][4] == "'@x"


def test_parse_errors_become_report_entries():
    result = parse("受注番号,伝票番号\nA-1,12345\nA-2,123456\nA-2,654321\n")
    entries = [ReportEntry.from_error(e) for e in result.errors]
    assert [(e.line, e.order_number, e.slip_number, e.result) for e in entries] == [
        (2, "A-1", "12345", ReportResult.MALFORMED), (4, "A-2", "654321", ReportResult.DUPLICATE)]
    rows = read_report(report_csv(entries))
    assert [r[3] for r in rows[1:]] == ["Error in row", "Duplicate in file"]


def test_result_constants():
    assert set(ReportResult.values) == {"captured", "already_captured", "not_capturable", "unknown_order",
                                        "malformed", "duplicate"}
    assert isinstance(RowError(2, RowCode.MISSING_SLIP_NUMBER, "x"), RowError)


# --- fingerprint ----------------------------------------------------------------------------------------


def test_fingerprint():
    data = GENERATED.encode("utf-8")
    assert file_fingerprint(data) == file_fingerprint(bytes(data))
    assert len(file_fingerprint(data)) == 64 and int(file_fingerprint(data), 16) >= 0
    assert file_fingerprint(data) != file_fingerprint(data + b"\n")
    assert file_fingerprint(data) != file_fingerprint(GENERATED.encode("utf-8-sig"))
    assert file_fingerprint(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
