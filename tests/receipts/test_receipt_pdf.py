"""The receipt PDF carries the qualified-invoice fields in Japanese, readable back out of the file."""

import io
from datetime import date
from pathlib import Path

import pypdf
import pypdfium2
import pytest

from receipts.pdf import ReceiptData, ReceiptError, ReceiptLine, render_receipt

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "receipts"


def receipt(**changes):
    base = dict(number="ZAKKA-000123", issued_on=date(2026, 11, 23), recipient="山田 花子",
                issuer_name="デモ雑貨店 株式会社", registration_number="T1234567890123",
                lines=(ReceiptLine("有田焼 マグカップ × 2", 4400, 10), ReceiptLine("抹茶 100g", 3240, 8),
                       ReceiptLine("送料", 600, 10)))
    return ReceiptData(**{**base, **changes})


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=1.5).to_pil()
    assert image.size[0] > 800
    image.save(ARTIFACTS / "receipt-reissue.png")


@pytest.mark.parametrize("changes, message", [
    ({"registration_number": "1234567890123"}, "T followed by 13 digits"),
    ({"registration_number": "T123"}, "T followed by 13 digits"),
    ({"lines": ()}, "at least one line"),
    ({"lines": (ReceiptLine("x", 100, 5),)}, "unknown tax rate"),
    ({"lines": (ReceiptLine("x", -1, 10),)}, "whole yen"),
])
def test_bad_input_is_refused(changes, message):
    with pytest.raises(ReceiptError, match=message):
        render_receipt(receipt(**changes))
