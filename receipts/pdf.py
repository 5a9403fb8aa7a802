"""領収書 (receipt) PDF with the fields of a qualified invoice (適格簡易請求書 / 適格請求書), groundwork for #8.

Pure: plain values in, PDF bytes out. Japanese is drawn with IPA Gothic embedded in the file (receipts.fonts;
without the font file, a non-embedded CID font). Tax is computed once per rate on the tax-inclusive total of
that rate (the invoice rule: one rounding per rate per document, rounded down), never per line.

Points used (ポイント利用) are a means of payment, not a discount line: the per-rate totals stay the price of
what was sold, and the amount received is the total less the points.
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
from reportlab.pdfgen import canvas

from receipts.fonts import receipt_font

REGISTRATION_RE = re.compile(r"T\d{13}")
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
    transaction_on: date | None = None  # 取引年月日 (a qualified invoice field)
    proviso: str = ""  # 但し書き, e.g. "○○ 参加費として"
    points_used: int = 0  # paid with points: shown, deducted from the amount received, not from a rate

    def validate(self) -> None:
        if not REGISTRATION_RE.fullmatch(self.registration_number or ""):
            raise ReceiptError("the registration number must be T followed by 13 digits")
        if not self.lines:
            raise ReceiptError("a receipt needs at least one line")
        for line in self.lines:
            if line.tax_rate not in RATES:
                raise ReceiptError(f"unknown tax rate {line.tax_rate}%")
            if isinstance(line.amount, bool) or not isinstance(line.amount, int) or line.amount < 0:
                raise ReceiptError("line amounts are whole yen, 0 or more")
        points = self.points_used
        if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= self.total:
            raise ReceiptError("points used are whole yen, 0 up to the total")

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def amount_received(self) -> int:
        return self.total - self.points_used

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


def fitted(value: str, font: str, size: float, width: float) -> str:
    """The value cut short (…) to fit the width, so a long item name never runs into its amount."""
    if pdfmetrics.stringWidth(value, font, size) <= width:
        return value
    while value and pdfmetrics.stringWidth(value + "…", font, size) > width:
        value = value[:-1]
    return value + "…"


def render_receipt(data: ReceiptData) -> bytes:
    data.validate()
    font = receipt_font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, initialFontName=font, initialFontSize=10)
    pdf.setTitle(f"領収書 {data.number}")
    width, height = A4
    left, right, bottom = 20 * mm, width - 20 * mm, 25 * mm
    y = height - 25 * mm

    def text(x, size, value, align_right=False):
        pdf.setFont(font, size)
        (pdf.drawRightString if align_right else pdf.drawString)(x, y, value)

    def room(needed):
        # A long order continues on the next page, under the receipt number.
        nonlocal y
        if y - needed < bottom:
            pdf.showPage()
            y = height - 25 * mm
            text(right, 9, f"No. {data.number}（続き）", align_right=True)
            y -= 10 * mm

    text(left, 22, "領収書")
    if data.reissue:
        pdf.setFillColorRGB(0.75, 0, 0)
        text(60 * mm, 16, "再発行")
        pdf.setFillColorRGB(0, 0, 0)
    text(right, 10, f"No. {data.number}", align_right=True)
    y -= 7 * mm
    text(right, 10, f"発行日 {data.issued_on:%Y年%m月%d日}", align_right=True)
    if data.transaction_on:
        y -= 6 * mm
        text(right, 10, f"お取引日 {data.transaction_on:%Y年%m月%d日}", align_right=True)
    y -= 14 * mm
    text(left, 14, f"{data.recipient} 様")
    y -= 14 * mm
    text(left, 18, f"金額 {yen(data.amount_received)}（税込）")
    y -= 8 * mm
    if data.proviso:
        text(left, 10, f"但し {data.proviso}")
        y -= 6 * mm
    text(left, 10, "上記の金額を正に領収いたしました。")
    y -= 14 * mm
    text(left, 10, "内訳（※は軽減税率8%対象）")
    y -= 7 * mm
    for line in data.lines:
        room(6 * mm)
        mark = "※" if line.tax_rate == 8 else ""
        text(24 * mm, 10, fitted(f"{line.name}{mark}", font, 10, right - 24 * mm - 30 * mm))
        text(right, 10, yen(line.amount), align_right=True)
        y -= 6 * mm
    if data.points_used:
        room(20 * mm)
        text(24 * mm, 10, "合計")
        text(right, 10, yen(data.total), align_right=True)
        y -= 6 * mm
        text(24 * mm, 10, "ポイント利用（お支払い手段）")
        text(right, 10, f"−{yen(data.points_used)}", align_right=True)
        y -= 6 * mm
        text(24 * mm, 10, "領収金額")
        text(right, 10, yen(data.amount_received), align_right=True)
        y -= 6 * mm
    y -= 4 * mm
    room(6 * mm * len(RATES) + 34 * mm)
    for rate, (total, tax) in data.by_rate().items():
        text(24 * mm, 10, f"{rate}%対象 {yen(total)}（うち消費税 {yen(tax)}）")
        y -= 6 * mm
    y -= 12 * mm
    text(left, 11, data.issuer_name)
    y -= 6 * mm
    text(left, 10, f"登録番号 {data.registration_number}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
