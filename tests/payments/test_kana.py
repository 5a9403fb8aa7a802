"""Payer-name matching for bank transfers: width, small kana, spacing and script variants, ambiguity."""

import pytest

from payments.kana import Match, OpenTransfer, StatementRow, match_rows, name_key


@pytest.mark.parametrize("typed, printed", [
    ("ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # full-width vs half-width with dakuten
    ("ヤマダ　タロウ", "ﾔﾏﾀﾞﾀﾛｳ"),  # full-width space vs none
    ("やまだ たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # hiragana
    ("キッド ジョウ", "ｷﾂﾄﾞ ｼﾞﾖｳ"),  # small kana: the bank prints them large
    ("シャチョウ", "ｼﾔﾁﾖｳ"),
    ("コーヒー ハナコ", "ｺｰﾋｰ ﾊﾅｺ"),  # long vowel mark
    ("コーヒー ハナコ", "ｺ-ﾋ- ﾊﾅｺ"),  # long vowel printed as a hyphen
    ("ＡＢＣ　ショウジ", "ABC ｼﾖｳｼﾞ"),  # full-width letters
    ("ヴァイオリン", "ｳﾞｱｲｵﾘﾝ"),
])
def test_same_key(typed, printed):
    assert name_key(typed) == name_key(printed)


@pytest.mark.parametrize("a, b", [("ヤマダ タロウ", "ﾔﾏﾀﾞ ｼﾞﾛｳ"), ("カトウ", "ｶﾄﾞｳ"), ("ハナコ", "ﾊﾞﾅｺ")])
def test_different_key(a, b):
    assert name_key(a) != name_key(b)


def test_matching_by_amount_and_name_leaves_ambiguity_to_a_person():
    open_transfers = [
        OpenTransfer(1, 5000, "ヤマダ タロウ"),
        OpenTransfer(2, 3000, "サトウ ハナコ"),
        OpenTransfer(3, 3000, "サトウ ハナコ"),  # two registrations, same payer and amount
        OpenTransfer(4, 8000, "キッド ジョウ"),
    ]
    rows = [
        StatementRow(1, 5000, "ﾔﾏﾀﾞ ﾀﾛｳ"),
        StatementRow(2, 3000, "ｻﾄｳ ﾊﾅｺ"),
        StatementRow(3, 8000, "ｷﾂﾄﾞ ｼﾞﾖｳ"),
        StatementRow(4, 4999, "ﾔﾏﾀﾞ ﾀﾛｳ"),  # wrong amount
        StatementRow(5, 5000, "ﾔﾏﾀﾞ ﾀﾛｳ"),  # the same transfer twice: the payment is already taken
    ]
    result = match_rows(rows, open_transfers)
    assert [(m.row.line, m.reason, m.payment_id) for m in result] == [
        (1, "matched", 1), (2, "ambiguous", None), (3, "matched", 4), (4, "no_match", None), (5, "no_match", None)]
    assert result[1] == Match(rows[1], None, (2, 3), "ambiguous")
