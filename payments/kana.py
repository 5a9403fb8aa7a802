"""Payer names as banks print them (振込依頼人名) vs names as customers typed them (SPEC 3.4, seed 000).

Bank statements give half-width katakana without small kana ("ﾔﾏﾀﾞ ﾀﾛｳ", "ｷﾂﾄﾞ"); customers type
full-width katakana, hiragana or with small kana and spaces ("ヤマダ　タロウ", "やまだたろう", "キッド").
Both sides are reduced to one comparable key; matching also needs the amount, and a key shared by
several open payments is never guessed: it is left for manual assignment.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_LONG_VOWEL = str.maketrans({"-": "ー", "‐": "ー", "−": "ー", "―": "ー", "ｰ": "ー"})
_DROP = {" ", "\u3000", "・", "･", ".", "．", ",", "，"}


def _hiragana_to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def name_key(name: str) -> str:
    """One comparable form: full-width katakana, no small kana, no spaces or dots, ASCII upper case."""
    text = unicodedata.normalize("NFKC", name or "")  # ﾀﾞ → ダ, full-width letters/digits → ASCII
    text = _hiragana_to_katakana(text).translate(_LONG_VOWEL).translate(_SMALL)
    return "".join(c for c in text if c not in _DROP).upper()


@dataclass(frozen=True)
class OpenTransfer:
    """A payment awaiting a bank transfer: what the statement row must match."""

    payment_id: int
    amount: int
    payer_kana: str


@dataclass(frozen=True)
class StatementRow:
    line: int
    amount: int
    payer: str  # as printed by the bank


@dataclass(frozen=True)
class Match:
    row: StatementRow
    payment_id: int | None  # set only for an unambiguous match
    candidates: tuple[int, ...] = ()  # several: left for a person to assign
    reason: str = ""  # "matched" / "ambiguous" / "no_match"


def match_rows(rows: Iterable[StatementRow], open_transfers: Iterable[OpenTransfer]) -> list[Match]:
    """Match by (amount, name key). A payment is used once: two rows for one payment → the second is left over."""
    index: dict[tuple[int, str], list[int]] = {}
    for transfer in open_transfers:
        index.setdefault((transfer.amount, name_key(transfer.payer_kana)), []).append(transfer.payment_id)
    used: set[int] = set()
    results = []
    for row in rows:
        found = [pk for pk in index.get((row.amount, name_key(row.payer)), []) if pk not in used]
        if len(found) == 1:
            used.add(found[0])
            results.append(Match(row, found[0], tuple(found), "matched"))
        elif found:
            results.append(Match(row, None, tuple(found), "ambiguous"))
        else:
            results.append(Match(row, None, (), "no_match"))
    return results
