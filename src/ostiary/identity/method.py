"""The one interface every sign-in method ends in: a person proven by some
method becomes a central session that records that method (RFC 8176 `amr`
values, and when). The handshake, /check and sign-out never ask how a person
signed in; only the recorded methods tell (docs/how-it-works.md)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

# RFC 8176 §2 values Ostiary records.
PASSWORD = "pwd"  # Ostiary's own password
ONE_TIME_CODE = "otp"  # a TOTP or recovery code
FEDERATED = "fed"  # an upstream OpenID Connect / OAuth 2 provider
PASSKEY = "hwk"  # a passkey (WebAuthn): proof of a key held by an authenticator
MULTI_FACTOR = "mfa"  # recorded beside "hwk" when the authenticator also verified the person
KNOWLEDGE = "kba"  # not used: listed so nobody invents a name for it
METHODS = frozenset({PASSWORD, ONE_TIME_CODE, FEDERATED, PASSKEY, "swk", MULTI_FACTOR})


@dataclass(frozen=True)
class Proven:
    """What a sign-in method hands on: who, by which RFC 8176 method, and
    through what (a provider's or directory's name; empty for passwords)."""

    user_id: int
    method: str
    via: str = ""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"{self.method!r} is not an RFC 8176 method Ostiary records")


def method_entry(method: str, via: str = "", at: float | None = None) -> dict:
    if method not in METHODS:
        raise ValueError(f"{method!r} is not an RFC 8176 method Ostiary records")
    entry = {"amr": method, "at": round(time.time() if at is None else at, 3)}
    if via:
        entry["via"] = via[:100]
    return entry


def encode_methods(entries: list[dict]) -> str:
    return json.dumps(entries, separators=(",", ":"), ensure_ascii=False)


def decode_methods(text: str | None) -> list[dict]:
    """The recorded entries; sessions from before methods were recorded have none."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [e for e in value if isinstance(e, dict) and e.get("amr") in METHODS] if isinstance(value, list) else []


_WORDS = {PASSWORD: "password", ONE_TIME_CODE: "one-time code", FEDERATED: "provider", "hwk": "passkey",
          "swk": "passkey", "mfa": "second factor"}


def describe(text: str | None) -> str:
    """How a session was signed in, for people: "password + one-time code",
    "idp", "directory corp"; empty for sessions from before methods were
    recorded."""
    words: list[str] = []
    for entry in decode_methods(text):
        via = entry.get("via")
        if entry["amr"] == FEDERATED and via:
            word = str(via)
        elif entry["amr"] == PASSWORD and via:
            word = f"directory {via}"
        else:
            word = _WORDS[entry["amr"]]
        if word not in words:
            words.append(word)
    return " + ".join(words)


def amr_values(text: str | None) -> list[str]:
    """The RFC 8176 `amr` claim for a session: each method once, in the order used."""
    seen: list[str] = []
    for entry in decode_methods(text):
        if entry["amr"] not in seen:
            seen.append(entry["amr"])
    return seen
