"""Encryption at rest for risk-profile signals: AES-256-GCM (cryptography), a key ring from env.

`RISK_PROFILE_KEYS` holds comma-separated urlsafe-base64 32-byte keys; the first one
encrypts, every one decrypts (so a rotation never makes a row unreadable). A token is
`hf1:<key id>:<base64(nonce || ciphertext+tag)>`, where the key id is the first 8 hex
digits of the key's sha256 (never the key). The row id is bound as associated data: a
ciphertext copied into another row does not decrypt. A missing, wrong or retired key
raises `KeyUnavailable` / `DecryptionFailed`; ciphertext is never returned as data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from common.exceptions import ServiceError

PREFIX = "hf1"


class CryptoError(ServiceError):
    """Risk-profile data cannot be encrypted or decrypted (the API answers 503)."""

    status_code = 503
    default_code = "encryption_unavailable"


class KeyUnavailable(CryptoError):
    pass


class DecryptionFailed(CryptoError):
    pass


@dataclass(frozen=True)
class Key:
    key_id: str
    aead: AESGCM


def generate_key() -> str:
    """A new urlsafe-base64 32-byte key, for RISK_PROFILE_KEYS."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def _load(raw: str) -> Key:
    try:
        material = base64.urlsafe_b64decode(raw.strip().encode())
    except ValueError:
        raise KeyUnavailable("A RISK_PROFILE_KEYS entry is not urlsafe base64.") from None
    if len(material) != 32:
        raise KeyUnavailable("Each RISK_PROFILE_KEYS entry must be 32 bytes (base64).")
    return Key(key_id=hashlib.sha256(material).hexdigest()[:8], aead=AESGCM(material))


def keyring() -> list[Key]:
    raw = [k for k in (settings.RISK_PROFILE_KEYS or []) if k.strip()]
    if not raw:
        raise KeyUnavailable("RISK_PROFILE_KEYS is not set: risk profiles cannot be read.")
    return [_load(k) for k in raw]


def _aad(row_id) -> bytes:
    return f"accounts.RiskProfile:{row_id}".encode()


def encrypt_json(value, *, row_id) -> str:
    key = keyring()[0]
    nonce = os.urandom(12)
    plaintext = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    sealed = key.aead.encrypt(nonce, plaintext, _aad(row_id))
    return f"{PREFIX}:{key.key_id}:{base64.b64encode(nonce + sealed).decode()}"


def token_key_id(token: str) -> str:
    parts = (token or "").split(":")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionFailed("Not a risk-profile ciphertext.")
    return parts[1]


def decrypt_json(token: str, *, row_id):
    key_id = token_key_id(token)
    key = next((k for k in keyring() if k.key_id == key_id), None)
    if key is None:
        raise KeyUnavailable(f"The key {key_id} that sealed this risk profile is not configured.")
    blob = base64.b64decode(token.split(":")[2])
    try:
        plaintext = key.aead.decrypt(blob[:12], blob[12:], _aad(row_id))
    except InvalidTag:
        raise DecryptionFailed("This risk profile does not decrypt (wrong key or row).") from None
    return json.loads(plaintext)


def needs_rotation(token: str) -> bool:
    return token_key_id(token) != keyring()[0].key_id
