"""Webhook secrets: made (`whsec_` + standard base64 of 32 random bytes), encrypted at rest with a
key derived from TRACKER_SECRET_KEY (HKDF-SHA256 → Fernet), decrypted with the current key or,
during a key change, TRACKER_SECRET_KEY_PREVIOUS (MultiFernet)."""

from __future__ import annotations

import base64
import secrets
from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
INFO = b"contact-tracker webhook secrets v1"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after `whsec_` (Standard Webhooks)."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


@cache
def _box(secret_key: str, previous: str | None) -> MultiFernet:
    keys = [_fernet(secret_key)] + ([_fernet(previous)] if previous else [])
    return MultiFernet(keys)


def encrypt(secret: str, *, secret_key: str, previous: str | None = None) -> str:
    return _box(secret_key, previous).encrypt(secret.encode()).decode()


def decrypt(token: str, *, secret_key: str, previous: str | None = None) -> str:
    """Raises cryptography.fernet.InvalidToken when neither key made it."""
    return _box(secret_key, previous).decrypt(token.encode()).decode()
