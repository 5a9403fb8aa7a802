"""Reading an uploaded CSV's bytes as text (slip numbers, bank statements): shared by every upload."""

from __future__ import annotations

import codecs
import re

# Control characters never found in a CSV typed by a person; NUL in particular is what UTF-16 looks like
# when read byte by byte. Tab, LF and CR are allowed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Python's cp932 decodes the bytes Shift_JIS leaves undefined (0xA0, 0xFD-0xFF) and the user-defined
# area (外字) into the private use area: in practice a sign that the file is not Shift_JIS at all.
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")


def decode_csv_bytes(data: bytes) -> tuple[str, str] | None:
    """(text, encoding): UTF-8 with or without BOM, else CP932; None when it is neither. Never a silent guess."""
    candidates = ("utf-8-sig",) if data.startswith(codecs.BOM_UTF8) else ("utf-8", "cp932")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text) or (encoding == "cp932" and _PRIVATE_USE.search(text)):
            continue
        return text, encoding
    return None
