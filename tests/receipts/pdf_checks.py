"""Reading a receipt PDF back: its text, its fonts, and page 1 as an image (kept in the test artifacts)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pypdf
import pypdfium2

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts")) / "receipts"


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def font_resources(pdf: bytes) -> list[dict]:
    """Every font of every page: subtype, base font, font program embedded (FontFile2), ToUnicode map."""
    out = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            out.append({"subtype": font["/Subtype"], "base_font": font["/BaseFont"],
                        "embedded": "/FontFile2" in descriptor, "to_unicode": "/ToUnicode" in font})
    return out


def page_image(pdf: bytes, path: Path):
    """Page 1 rendered by PDFium, saved to `path` for a human to look at."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=1.5).to_pil().convert("RGB")
    image.save(path)
    return image


def non_white_pixels(image, *, top: float, bottom: float) -> int:
    """Pixels darker than near-white in the horizontal band [top, bottom) (fractions of the height)."""
    width, height = image.size
    band = image.crop((0, int(height * top), width, int(height * bottom))).convert("L")
    return sum(band.histogram()[:200])
