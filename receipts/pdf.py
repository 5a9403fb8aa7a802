"""領収書 (receipt) PDF with the fields of a qualified invoice (適格簡易請求書 / 適格請求書), groundwork for #8.

Pure: plain values in, PDF bytes out. Japanese is drawn with reportlab's built-in CID font
(HeiseiKakuGo-W5), which PDF viewers resolve without embedding a font file, so no font ships with us.
Tax is computed once per rate on the tax-inclusive total of that rate (the invoice rule: one rounding
per rate per document, rounded down), never per line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "HeiseiKakuGo-W5"
REGISTRATION_RE = re.compile(r"^T\d{13}$")
RATES = (10, 8)


class ReceiptError(ValueError):
    pass


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    amount: int  # tax-inclusive yen of the line (quantity × unit price)
    tax_rate: int  # 10 or 8 (軽減税率)


@dataclass(frozen=True)
class ReceiptData:
    number: str  # receipt number, e.g. the order number
    issued_on: date
    recipient: str  # 宛名
    issuer_name: str
    registration_number: str  # 登録番号 T + 13 digits
    lines: Sequence[ReceiptLine]
    reissue: bool = False  # 再発行

    def validate(self) -> None:
        if not REGISTRATION_RE.match(self.registration_number or ""):
            raise ReceiptError("the registration number must be T followed by 13 digits")
        if not self.lines:
            raise ReceiptError("a receipt needs at least one line")
        for line in self.lines:
            if line.tax_rate not in RATES:
                raise ReceiptError(f"unknown tax rate {line.tax_rate}%")
            if isinstance(line.amount, bool) or not isinstance(line.amount, int) or line.amount < 0:
                raise ReceiptError("line amounts are whole yen, 0 or more")

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    def by_rate(self) -> dict[int, tuple[int, int]]:
        """rate → (tax-inclusive total, tax included), rates present only."""
        out = {}
        for rate in RATES:
            total = sum(line.amount for line in self.lines if line.tax_rate == rate)
            if total:
                out[rate] = (total, total * rate // (100 + rate))
        return out


def yen(value: int) -> str:
    return f"¥{value:,}"


def render_receipt(data: ReceiptData) -> bytes:
    data.validate()
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(f"領収書 {data.number}")
    width, height = A4
    y = height - 25 * mm

    def text(x, size, value, right=False):
        pdf.setFont(FONT, size)
        (pdf.drawRightString if right else pdf.drawString)(x, y, value)

    text(20 * mm, 22, "領収書")
    if data.reissue:
        pdf.setFillColorRGB(0.75, 0, 0)
        text(60 * mm, 16, "再発行")
        pdf.setFillColorRGB(0, 0, 0)
    text(width - 20 * mm, 10, f"No. {data.number}", right=True)
    y -= 7 * mm
    text(width - 20 * mm, 10, f"発行日 {data.issued_on:%Y年%m月%d日}", right=True)
    y -= 14 * mm
    text(20 * mm, 14, f"{data.recipient} 様")
    y -= 14 * mm
    text(20 * mm, 18, f"金額 {yen(data.total)}（税込）")
    y -= 8 * mm
    text(20 * mm, 10, "上記の金額を正に領収いたしました。")
    y -= 14 * mm
    text(20 * mm, 10, "内訳（※は軽減税率8%対象）")
    y -= 7 * mm
    for line in data.lines:
        mark = "※" if line.tax_rate == 8 else ""
        text(24 * mm, 10, f"{line.name}{mark}")
        text(width - 20 * mm, 10, yen(line.amount), right=True)
        y -= 6 * mm
    y -= 4 * mm
    for rate, (total, tax) in data.by_rate().items():
        text(24 * mm, 10, f"{rate}%対象 {yen(total)}（うち消費税 {yen(tax)}）")
        y -= 6 * mm
    y -= 12 * mm
    text(20 * mm, 11, data.issuer_name)
    y -= 6 * mm
    text(20 * mm, 10, f"登録番号 {data.registration_number}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
