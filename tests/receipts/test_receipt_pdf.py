"""The receipt PDF carries the qualified-invoice fields in Japanese, readable back out of the file, drawn with
an embedded font."""

import logging
from datetime import date

import pytest

from receipts import fonts
from receipts.pdf import ReceiptData, ReceiptError, ReceiptLine, render_receipt
from tests.receipts.pdf_checks import ARTIFACTS, font_resources, non_white_pixels, page_image, text_of


def receipt(**changes):
    base = dict(number="ZAKKA-000123", issued_on=date(2026, 11, 23), recipient="山田 花子",
                issuer_name="デモ雑貨店 株式会社", registration_number="T1234567890123",
                lines=(ReceiptLine("有田焼 マグカップ × 2", 4400, 10), ReceiptLine("抹茶 100g", 3240, 8),
                       ReceiptLine("送料", 600, 10)))
    return ReceiptData(**{**base, **changes})


def test_fields_and_tax_per_rate_are_in_the_pdf():
    data = receipt()
    assert data.by_rate() == {10: (5000, 454), 8: (3240, 240)}  # one rounding per rate, down
    pdf = render_receipt(data)
    text = text_of(pdf)
    for expected in ("領収書", "山田 花子", "T1234567890123", "デモ雑貨店", "有田焼 マグカップ", "抹茶 100g※",
                     "10%対象 ¥5,000（うち消費税 ¥454）", "8%対象 ¥3,240（うち消費税 ¥240）", "¥8,240",
                     "2026年11月23日"):
        assert expected in text, expected
    assert "再発行" not in text


def test_reissue_is_marked_and_a_page_renders_to_png():
    pdf = render_receipt(receipt(reissue=True))
    assert "再発行" in text_of(pdf)
    image = page_image(pdf, ARTIFACTS / "receipt-reissue.png")
    assert image.size[0] > 800
    assert non_white_pixels(image, top=0.0, bottom=0.1) > 500  # the title 領収書 and the red 再発行


def test_the_japanese_font_is_embedded():
    resources = font_resources(render_receipt(receipt()))
    assert resources, "no font on the page"
    # Only the embedded IPA Gothic subsets: TrueType with the font program (FontFile2) and a ToUnicode map.
    for font in resources:
        assert font["subtype"] == "/TrueType", font
        assert font["embedded"] and font["to_unicode"], font
        assert "IPAGothic" in font["base_font"], font


def test_points_used_are_deducted_from_the_amount_not_from_a_rate():
    text = text_of(render_receipt(receipt(points_used=500, proviso="お品代として")))
    for expected in ("金額 ¥7,740（税込）", "但し お品代として", "合計", "¥8,240", "ポイント利用", "−¥500",
                     "領収金額", "10%対象 ¥5,000（うち消費税 ¥454）", "8%対象 ¥3,240（うち消費税 ¥240）"):
        assert expected in text, expected


def test_a_long_order_continues_on_a_second_page():
    lines = tuple(ReceiptLine(f"商品{n:03d}", 1000, 10) for n in range(60))
    pdf = render_receipt(receipt(lines=lines))
    text = text_of(pdf)
    assert "商品000" in text and "商品059" in text and "10%対象 ¥60,000（うち消費税 ¥5,454）" in text
    assert "（続き）" in text


def test_without_the_font_file_the_receipt_still_renders_and_the_log_says_why(settings, caplog):
    settings.RECEIPT_FONT_PATH = "/nonexistent/ipag.ttf"
    with caplog.at_level(logging.WARNING, logger="receipts.fonts"):
        pdf = render_receipt(receipt())
    assert "領収書" in text_of(pdf)
    assert any("not embedded" in r.getMessage() for r in caplog.records)
    assert [f["base_font"] for f in font_resources(pdf)] == ["/" + fonts.FALLBACK_FONT]
    assert not any(f["embedded"] for f in font_resources(pdf))


def test_the_font_path_can_be_overridden(settings, monkeypatch):
    path = fonts.font_path()
    assert path is not None, "install fonts-ipafont-gothic (make browser)"
    monkeypatch.setenv("RECEIPT_FONT_PATH", path)
    settings.RECEIPT_FONT_PATH = ""
    assert fonts.font_path() == path
    assert fonts.is_embedded(fonts.receipt_font())


@pytest.mark.parametrize("changes, message", [
    ({"registration_number": "1234567890123"}, "T followed by 13 digits"),
    ({"registration_number": "T123"}, "T followed by 13 digits"),
    ({"lines": ()}, "at least one line"),
    ({"lines": (ReceiptLine("x", 100, 5),)}, "unknown tax rate"),
    ({"lines": (ReceiptLine("x", -1, 10),)}, "whole yen"),
    ({"registration_number": "T1234567890123\n"}, "T followed by 13 digits"),
    ({"points_used": 9000}, "points used"),
])
def test_bad_input_is_refused(changes, message):
    with pytest.raises(ReceiptError, match=message):
        render_receipt(receipt(**changes))
