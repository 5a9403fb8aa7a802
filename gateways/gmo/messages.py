"""Plain-language meaning of the GMO error codes operators meet most (reference §4.3).

Kept as data, in both languages, so the message shown next to a gateway code never depends on the
active translation catalogue being complete.
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "E01030002": ("ショップIDまたはパスワードが違います。", "Shop ID or shop password is wrong."),
    "E01040010": ("このオーダーIDは既に使われています。", "This OrderID was already used."),
    "E01050004": ("この取引の状態ではその処理はできません。", "This operation is not allowed in the transaction's state."),
    "E01060005": ("金額の桁数が多すぎます（7桁まで）。", "The amount has too many digits (7 at most)."),
    "E01060006": ("金額が数値ではありません。", "The amount is not a number."),
    "E01060010": ("金額が取引の金額と一致しません。", "The amount differs from the transaction's amount."),
    "E01110002": ("指定された取引が見つかりません。", "No such transaction at the gateway."),
    "E01110010": ("まだ決済が実行されていない取引です。", "The transaction has not been executed yet."),
    "E01410010": ("取引が操作禁止の状態です。", "The transaction is locked against operations."),
    "E01420010": (
        "仮売上の有効期間を過ぎているため実売上にできません。再オーソリまたはキャンセルしてください。",
        "The authorization has expired and cannot be captured. Re-authorize or cancel.",
    ),
    "E11010001": ("この取引は既に決済済みです。", "The transaction was already settled."),
    "E11010002": ("決済前の取引のため変更できません。", "The transaction is not settled and cannot be changed."),
    "E11010003": ("この取引ではその処理区分は使えません。", "This job code cannot be used on this transaction."),
    "E11010010": ("180日を過ぎた取引は操作できません。", "Transactions older than 180 days cannot be processed."),
    "E41170002": ("このカードブランドは使えません。", "This card brand is not accepted."),
    "E61010002": ("このカードは使えないか、番号が違います。", "The card cannot be used or its number is wrong."),
    "E90010001": ("同じ取引を処理中です。しばらく待って状態を確認してください。", "The same transaction is being processed."),
    "E91019999": ("決済処理に失敗しました。時間をおいて再度お試しください。", "Settlement failed; try again later."),
    "E91020001": ("通信がタイムアウトしました。", "The gateway timed out."),
    "E91099997": ("存在しないAPIです（接続先URLを確認してください）。", "Unknown API (check the gateway URL)."),
    "E92000001": ("決済サービスが混雑しています。", "The gateway is busy."),
    "E92000002": ("同時処理数の上限を超えました。", "Too many concurrent requests at the gateway."),
    "EX1000301": ("カードトークンが存在しません。", "The card token does not exist."),
    "EX1000302": ("カードトークンは使用済みです。", "The card token was already used."),
    "EX1000303": ("カードトークンの有効期限が切れています。", "The card token has expired."),
    "EX1000304": ("カードトークンが無効です。", "The card token is invalid."),
    "42G020000": ("残高不足のためカードが使えません。", "Declined: insufficient balance."),
    "42G040000": ("残高不足のためカードが使えません。", "Declined: insufficient balance."),
    "42G030000": ("カードの利用限度額を超えています。", "Declined: over the card limit."),
    "42G050000": ("カードの利用限度額を超えています。", "Declined: over the card limit."),
    "42G550000": ("カードの利用限度額を超えています。", "Declined: over the card limit."),
    "42G440000": ("セキュリティコードが誤っています。", "Declined: wrong security code."),
    "42G450000": ("セキュリティコードが入力されていません。", "Declined: security code missing."),
    "42G650000": ("カード番号が誤っています。", "Declined: wrong card number."),
    "42G830000": ("有効期限が誤っています。", "Declined: wrong expiry date."),
    "42G920000": ("カード会社の判断で利用できません。", "Declined at the card company's discretion."),
}

# Families, for codes not listed above.
PREFIXES: list[tuple[str, tuple[str, str]]] = [
    ("42G", ("カード会社によりお取引が承認されませんでした。", "The card issuer declined the transaction.")),
    ("42C", ("カードセンターで障害が発生しました。", "The card centre failed.")),
    ("E01", ("入力内容に誤りがあります。", "The request was invalid.")),
    ("E11", ("取引の状態により処理できません。", "Not possible in the transaction's state.")),
    ("E21", ("3Dセキュア認証に失敗しました。", "3-D Secure authentication failed.")),
    ("E41", ("カード番号に誤りがあるか、使えないカードです。", "Wrong card number or unsupported card.")),
    ("E61", ("ご契約上利用できない処理です。", "Not available under the shop's contract.")),
    ("E9", ("決済サービス側のエラーです。時間をおいて状態を確認してください。", "Gateway-side error; check the status later.")),
    ("EX1", ("カードトークンのエラーです。", "Card token error.")),
    ("M01", ("入力内容に誤りがあります。", "The request was invalid.")),
]


def describe(info: str, language: str = "ja") -> str:
    index = 0 if language.startswith("ja") else 1
    if info in MESSAGES:
        return MESSAGES[info][index]
    for prefix, texts in PREFIXES:
        if info.startswith(prefix):
            return texts[index]
    return ("不明なエラーです。", "Unknown error.")[index]
