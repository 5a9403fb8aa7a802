"""Encryption at rest for gateway credentials (Fernet, key from CREDENTIALS_KEY or SECRET_KEY)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = settings.CREDENTIALS_KEY or settings.SECRET_KEY
    key = base64.urlsafe_b64encode(hashlib.sha256(("credentials:" + material).encode()).digest())
    return Fernet(key)


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("credentials cannot be decrypted with the configured key") from exc
