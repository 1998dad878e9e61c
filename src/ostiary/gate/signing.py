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
    retire_at: float | None  # None: current; else it verifies until then
    # When it starts signing. A rotation publishes the new key a moment ahead,
    # so every worker knows it before any cookie signed with it arrives.
    signs_from: float = 0.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(kind: str, body: str, kid: str, secret: bytes) -> bytes:
    return hmac.new(secret, f"{kind}.{body}.{kid}".encode("ascii"), hashlib.sha256).digest()


def sign(kind: str, payload: Mapping, key: SigningKey) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{body}.{key.kid}.{_b64(_mac(kind, body, key.kid, key.secret))}"


# Tokens whose MAC already checked out: (kind, token) -> (secret, payload). A browser
# sends the same cookie on every request, so /check skips base64, HMAC and JSON for
# it; the key's secret, its retirement and `exp` are still checked every time.
_VERIFIED: dict[tuple[str, str], tuple[bytes, dict]] = {}
_VERIFIED_MAX = 10_000


def verify(kind: str, token: str, keys: Mapping[str, SigningKey], now: float) -> dict | None:
    """The payload when the MAC is right, the key still verifies and `exp`
    is in the future; None for anything else, never an exception."""
    if not token or len(token) > MAX_LENGTH:
        return None
    cached = _VERIFIED.get((kind, token))
    if cached is not None:
        key = keys.get(token.split(".", 2)[1])
        secret, payload = cached
        if key is not None and key.secret == secret:
            if key.retire_at is not None and key.retire_at <= now:
                return None
            exp = payload["exp"]
            return dict(payload) if exp > now else None
    payload = _verify_uncached(kind, token, keys, now)
    if payload is not None:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[(kind, token)] = (keys[token.split(".", 2)[1]].secret, dict(payload))
    return payload


def _verify_uncached(kind: str, token: str, keys: Mapping[str, SigningKey], now: float) -> dict | None:
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
