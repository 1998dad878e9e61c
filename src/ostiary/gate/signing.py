"""Signed, tamper-evident values: forward-auth cookies and handshake tokens.

Format: base64url(JSON payload) "." key id "." base64url(HMAC-SHA256).
The MAC covers the kind ("fa" cookie, "hs" token) as well, so one can never
stand in for the other. Tenant and domain live inside the payload."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

MAX_LENGTH = 4096


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes
    retire_at: float | None  # None: the key signs; else it verifies until then


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(kind: str, body: str, kid: str, secret: bytes) -> bytes:
    return hmac.new(secret, f"{kind}.{body}.{kid}".encode("ascii"), hashlib.sha256).digest()


def sign(kind: str, payload: Mapping, key: SigningKey) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{body}.{key.kid}.{_b64(_mac(kind, body, key.kid, key.secret))}"


def verify(kind: str, token: str, keys: Mapping[str, SigningKey], now: float) -> dict | None:
    """The payload when the MAC is right, the key still verifies and `exp`
    is in the future; None for anything else, never an exception."""
    if not token or len(token) > MAX_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    body, kid, mac = parts
    key = keys.get(kid)
    if key is None or (key.retire_at is not None and key.retire_at <= now):
        return None
    try:
        if not hmac.compare_digest(_unb64(mac), _mac(kind, body, kid, key.secret)):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(payload, dict):
        return None
    exp = payload.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now:
        return None
    return payload
