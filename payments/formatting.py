"""Display helpers shared by the payments modules (and any app built on payments)."""

from __future__ import annotations


def yen(value: int) -> str:
    """¥12,345: how every amount is shown to operators and in ledger explanations."""
    return f"¥{value:,}"
