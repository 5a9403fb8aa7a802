"""Bank transfer payments and statement files for the tests."""

from __future__ import annotations

from payments import services
from payments.actors import Actor

SYSTEM = Actor.system("test")
HEADER_JA = "日付,金額,振込依頼人"


def bank_payment(shop, amount=5000, kana="ヤマダ タロウ", name="山田 太郎", reference="REG-1"):
    return services.create_bank_transfer_payment(shop, amount=amount, reference=reference, payer_name=name,
                                                 payer_kana=kana, payer_email="taro@example.jp", actor=SYSTEM)


def statement(*lines: str, header: str = HEADER_JA, encoding: str = "utf-8", bom: bool = False) -> bytes:
    data = "\r\n".join([header, *lines]).encode(encoding) + b"\r\n"
    return (b"\xef\xbb\xbf" + data) if bom else data
