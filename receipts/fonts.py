"""The receipt's Japanese font: IPA Gothic embedded in the PDF, so the receipt looks the same everywhere.

A receipt is a document the customer keeps; a non-embedded font (HeiseiKakuGo-W5) leaves the glyphs to the
viewer, which may lack a Japanese font or substitute another. reportlab embeds a TrueType font as subsets
of the glyphs used (simple TrueType fonts of up to 256 glyphs each, with a ToUnicode map, so the text can
be searched and extracted): reportlab 5 does not write CID-keyed (Type0 / Identity-H) TrueType fonts.

The file comes from the system (Debian: fonts-ipafont-gothic), or RECEIPT_FONT_PATH (setting or
environment). Without it the demo keeps working with the non-embedded CID font, and says so in the log.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

logger = logging.getLogger(__name__)

EMBEDDED_FONT = "ReceiptGothic"
FALLBACK_FONT = "HeiseiKakuGo-W5"
SYSTEM_FONT_PATHS = (
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",  # fonts-ipafont-gothic
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",  # the Debian alternative pointing to it
    "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",  # older packages
)

# path -> registered font name: an override (tests, settings) registers its file under its own name.
_registered: dict[str, str] = {}


def configured_path() -> str:
    """RECEIPT_FONT_PATH from the Django settings, else the environment; "" when neither is set."""
    try:
        from django.conf import settings

        value = getattr(settings, "RECEIPT_FONT_PATH", "") if settings.configured else ""
    except ImportError:  # pragma: no cover - pdf.py is usable without Django
        value = ""
    return value or os.environ.get("RECEIPT_FONT_PATH", "")


def font_path() -> str | None:
    override = configured_path()
    candidates = (override,) if override else SYSTEM_FONT_PATHS
    return next((path for path in candidates if Path(path).is_file()), None)


def receipt_font() -> str:
    """The registered name of the font to draw receipts with: the embedded one when its file is there."""
    path = font_path()
    if path is not None:
        name = _registered.get(path)
        if name is None:
            name = EMBEDDED_FONT if not _registered else f"{EMBEDDED_FONT}{len(_registered)}"
            try:
                pdfmetrics.registerFont(TTFont(name, path))
            except (TTFError, OSError) as exc:
                logger.warning("receipt font %s cannot be used (%s); falling back to %s, not embedded",
                               path, exc, FALLBACK_FONT)
                return _fallback()
            _registered[path] = name
        return name
    logger.warning("no receipt font file found (%s); receipts use %s, which is not embedded in the PDF. "
                   "Install fonts-ipafont-gothic or set RECEIPT_FONT_PATH.",
                   configured_path() or ", ".join(SYSTEM_FONT_PATHS), FALLBACK_FONT)
    return _fallback()


def _fallback() -> str:
    if FALLBACK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def is_embedded(name: str) -> bool:
    return name in _registered.values()
