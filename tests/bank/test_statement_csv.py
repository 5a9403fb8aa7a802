"""Reading bank statement CSVs: encodings, Japanese or English headers, account lines above the header, and
malformed rows reported by line while the good rows are read."""

from datetime import date

import pytest

from payments.bank_statement_csv import UnreadableStatement, parse_statement
from tests.bank.helpers import statement

pytestmark = pytest.mark.usefixtures("english")


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("cp932", False)])
def test_encodings(encoding, bom):
    parsed = parse_statement(statement("2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ", encoding=encoding, bom=bom))
    assert parsed.encoding == {"utf-8": "utf-8-sig" if bom else "utf-8", "cp932": "cp932"}[encoding]
    assert [(r.line, r.transfer_date, r.amount, r.payer) for r in parsed.rows] == [
        (2, date(2026, 3, 10), 5000, "ﾔﾏﾀﾞ ﾀﾛｳ")]
    assert parsed.errors == ()


def test_english_header_in_any_order_with_other_columns():
    data = statement("memo,3000,2026-03-11,ｻﾄｳ ﾊﾅｺ,99000", header="Memo,Amount,Date,Payer,Balance")
    (row,) = parse_statement(data).rows
    assert (row.transfer_date, row.amount, row.payer) == (date(2026, 3, 11), 3000, "ｻﾄｳ ﾊﾅｺ")


def test_account_lines_above_the_header_are_skipped():
    data = ("口座番号,1234567\r\n照会期間,2026/03/01-2026/03/31\r\n\r\n"
            "取引日,入金額,振込依頼人名\r\n20260312,1000,ｷﾂﾄﾞ\r\n")
    parsed = parse_statement(data.encode("cp932"))
    assert [(r.line, r.transfer_date, r.amount) for r in parsed.rows] == [(5, date(2026, 3, 12), 1000)]


@pytest.mark.parametrize("cell, amount", [('"5,000"', 5000), ('"¥5,000"', 5000), ("５，０００", 5000), ("5000円", 5000),
                                          ("5000.00", 5000), ('"1,234,567"', 1234567), ("\\5000", 5000)])
def test_amount_forms(cell, amount):
    (row,) = parse_statement(statement(f"2026年3月10日,{cell},ﾔﾏﾀﾞ")).rows
    assert row.amount == amount


def test_malformed_rows_are_reported_by_line_and_good_rows_are_kept():
    parsed = parse_statement(statement(
        "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ",   # 2 good
        "2026/13/45,5000,ﾔﾏﾀﾞ ﾀﾛｳ",   # 3 no such date
        "2026/03/10,-500,ﾔﾏﾀﾞ ﾀﾛｳ",   # 4 negative
        "2026/03/10,abc,ﾔﾏﾀﾞ ﾀﾛｳ",    # 5 not a number
        "2026/03/10,0,ﾔﾏﾀﾞ ﾀﾛｳ",      # 6 zero
        "2026/03/10,3000,",            # 7 no payer
        "2026/03/10,3000",             # 8 too few columns
        "",                            # 9 blank: skipped, not an error
        "2026/03/11,3000,ｻﾄｳ ﾊﾅｺ",    # 10 good
        "2026/03/11,,ｻﾄｳ ﾊﾅｺ",        # 11 no amount (a withdrawal line)
        "2026/03/11,5,000,ｻﾄｳ ﾊﾅｺ",   # 12 unquoted comma: shifted, never read as ¥5
        "2026/03/12,1000,ｻﾄｳ,,",       # 13 good: empty trailing cells are not columns
    ))
    assert [r.line for r in parsed.rows] == [2, 10, 13]
    reasons = {e.line: e.reason for e in parsed.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 11, 12]
    assert "not a date" in reasons[3]
    assert "negative" in reasons[4]
    assert "whole number" in reasons[5]
    assert "¥0" in reasons[6]
    assert "payer name" in reasons[7]
    assert "columns" in reasons[8]
    assert "empty" in reasons[11]
    assert "4 columns but the header has 3" in reasons[12] and "quotation" in reasons[12]
    assert parsed.errors[0].raw == "2026/13/45,5000,ﾔﾏﾀﾞ ﾀﾛｳ"


def test_tab_separated():
    (row,) = parse_statement("日付\t金額\t振込依頼人\n2026/03/10\t5000\tﾔﾏﾀﾞ\n".encode()).rows
    assert row.amount == 5000


@pytest.mark.parametrize("data, words", [
    (b"", "header"),
    (statement("2026/03/10,5000,ﾔﾏﾀﾞ", header="a,b,c"), "header"),
    (statement(header=HEADER) if (HEADER := "日付,金額,振込依頼人") else b"", "no transfers"),
    ("日付,金額,振込依頼人\n".encode("utf-16"), "encoding"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "encoding"),
    ("日付,金額,振込依頼人\n2026/03/10,\"5000,ﾔﾏﾀﾞ\n".encode(), "quotation"),
])
def test_unreadable_files_are_refused_as_a_whole(data, words):
    with pytest.raises(UnreadableStatement) as refused:
        parse_statement(data)
    assert words in refused.value.message
