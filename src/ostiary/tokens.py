"""Signed, tamper-evident values, and the keys that sign them: the
forward-auth cookie, the handshake token and the other short-lived values the
portal hands a browser to carry (docs/contract.md §4).

Below the gate, the snapshot, the services and the portal alike: it imports
nothing of Ostiary's, so each of them signs and verifies with the same code.

Format: base64url(JSON payload) "." key id "." base64url(HMAC-SHA256).
The MAC covers the kind (one of KINDS below) as well, so a value minted as one
kind never stands in for another. Tenant and domain live inside the payload.

Every value carries its issue time (`iat`). One instance signs what another
verifies, and their clocks differ a little: `exp` is honoured up to
CLOCK_LEEWAY seconds late, and a value issued more than CLOCK_LEEWAY seconds
in the verifier's future is refused (docs/how-it-works.md, "Clocks"). Values
signed before `iat` existed verify as before."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

MAX_LENGTH = 4096
CLOCK_LEEWAY = 30  # seconds; instances whose clocks differ more are reported by /readyz and doctor

# The kinds of signed value, each with its one purpose (docs/contract.md §4 lists them too).
# Plain strings, not an enum: /check passes FORWARD_AUTH on every request.
FORWARD_AUTH = "fa"  # the forward-auth cookie _ostiary_fa: who, for one protected domain (§7)
HANDSHAKE = "hs"  # the single-use handshake token from /authorize to /callback (§2)
PENDING_TOTP = "te"  # a TOTP secret being set up, carried by the enrolment form until confirmed
UPSTREAM_SIGN_IN = "up"  # a sign-in in progress at an upstream provider, in a cookie until the person returns
PASSKEY_CEREMONY = "wa"  # a WebAuthn challenge carried by the page between options and answer
KINDS = frozenset({FORWARD_AUTH, HANDSHAKE, PENDING_TOTP, UPSTREAM_SIGN_IN, PASSKEY_CEREMONY})


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


def sign(kind: str, payload: Mapping, key: SigningKey, now: float | None = None) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of ostiary.tokens.KINDS")
    stamped = {"iat": int(time.time() if now is None else now), **payload}
    body = _b64(json.dumps(stamped, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{body}.{key.kid}.{_b64(_mac(kind, body, key.kid, key.secret))}"


# Tokens whose MAC already checked out: (kind, token) -> (kid, secret, payload, from, until).
# A browser sends the same cookie on every request, so /check skips base64, HMAC and JSON
# for it; the key's secret and retirement are still checked every time, and the payload's
# time window (`iat` and `exp` with the leeway, as _in_time reads them) is kept as two numbers.
_VERIFIED: dict[tuple[str, str], tuple[str, bytes, dict, float, float]] = {}
_VERIFIED_MAX = 10_000
_NEVER = float("-inf")


def verify(kind: str, token: str, keys: Mapping[str, SigningKey], now: float) -> dict | None:
    """The payload when the MAC is right, the key still verifies, `exp` is not
    past by more than the leeway and `iat` (when present) is not in the future
    by more than it; None for anything else, never an exception."""
    if not token or len(token) > MAX_LENGTH:
        return None
    cached = _VERIFIED.get((kind, token))
    if cached is not None:
        kid, secret, payload, valid_from, valid_until = cached
        key = keys.get(kid)
        if key is not None and key.secret == secret:
            if key.retire_at is not None and key.retire_at <= now:
                return None
            return dict(payload) if valid_from <= now < valid_until else None
    payload = _verify_uncached(kind, token, keys, now)
    if payload is not None:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        kid = token.split(".", 2)[1]
        iat = payload.get("iat")
        _VERIFIED[(kind, token)] = (kid, keys[kid].secret, dict(payload),
                                    _NEVER if iat is None else iat - CLOCK_LEEWAY, payload["exp"] + CLOCK_LEEWAY)
    return payload


def good_until(token: str, payload: Mapping, keys: Mapping[str, SigningKey]) -> float:
    """Until when a value `verify` has just accepted stays accepted, as far as
    the value and its key decide: `exp` plus the leeway, or the key's
    retirement if that comes first. (A change of the keys is a new snapshot.)"""
    until = payload["exp"] + CLOCK_LEEWAY
    retire_at = keys[token.split(".", 2)[1]].retire_at
    return until if retire_at is None or retire_at > until else retire_at


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
    return payload if _in_time(payload, now) else None


def _is_time(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _in_time(payload: dict, now: float) -> bool:
    exp, iat = payload.get("exp"), payload.get("iat", now)
    if not _is_time(exp) or exp + CLOCK_LEEWAY <= now:
        return False
    return _is_time(iat) and iat <= now + CLOCK_LEEWAY
