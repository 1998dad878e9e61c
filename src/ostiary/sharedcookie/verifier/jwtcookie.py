"""An identity taken from a chat app's own JWT session cookie, the shared
cookie (docs/contract.md §9), and where to send someone it does not sign in.

Defaults match LibreChat's refresh cookie: ``refreshToken``, HS256 keyed with
the raw UTF-8 bytes of ``JWT_REFRESH_SECRET``, claims ``id`` and ``sessionId``.
A ``token_provider=openid`` cookie means the refresh cookie holds the identity
provider's own token, not a JWT we can verify: not signed in.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from jwt.utils import base64url_decode, base64url_encode

from ostiary.sharedcookie.verifier.chat_cookies import parse_cookie_header

# The only algorithm accepted; anything a token's header asks for is ignored.
PINNED_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32

# Secrets shipped in LibreChat's .env.example (unchanged across its history):
# anyone can mint a valid cookie for an install that kept them.
PUBLISHED_DEFAULT_SECRETS: Mapping[str, str] = {
    "16f8c0ef4a5d391b26034086c628469d3f9f497f08163ab9b40137092f2909ef":
        "JWT_SECRET from LibreChat's .env.example",
    "eaa5191f2914e30b9387fd84e254e4ba6fc51b4654968a9b0803b456a54b8418":
        "JWT_REFRESH_SECRET from LibreChat's .env.example",
}

# Refusal reasons, stable strings for logs, metrics and tests.
NO_COOKIE = "no_cookie"
NOT_A_JWT_PROVIDER = "not_a_jwt_provider"
MALFORMED = "malformed"
WRONG_ALGORITHM = "wrong_algorithm"
BAD_SIGNATURE = "bad_signature"
EXPIRED = "expired"
MISSING_CLAIM = "missing_claim"
BAD_CLAIM = "bad_claim"


# What jsonwebtoken (through jws) takes for a JWT: three unpadded base64url
# segments. Padding, "+" or "/" make it "invalid token" there, so here too.
_JWS_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Claims jsonwebtoken does not check unless asked: PyJWT must not either.
_CHECKED_HERE = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                 "verify_iss": False, "verify_sub": False, "verify_jti": False}


class SharedCookieConfigError(ValueError):
    """The shared-cookie settings cannot work; the message lists every problem and its fix."""


@dataclass(frozen=True)
class SharedCookieIdentity:
    user_id: str
    session_id: str | None
    expires_at: int
    claims: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class NotSignedIn:
    reason: str
    detail: str

    def __bool__(self) -> bool:  # so `if result:` reads as "signed in"
        return False


@dataclass(frozen=True)
class SharedCookieSource:
    """Where and how to verify the chat's JWT cookie. Construction refuses unsafe settings."""

    secret: bytes = field(repr=False)
    sign_in_url: str
    cookie_name: str = "refreshToken"
    algorithm: str = PINNED_ALGORITHM
    user_id_claim: str = "id"
    required_claims: tuple[str, ...] = ("id", "sessionId")
    session_id_claim: str | None = "sessionId"
    provider_cookie: str | None = "token_provider"
    not_a_jwt_providers: tuple[str, ...] = ("openid",)
    # LibreChat's /login reads ?redirect_to= (relative paths only).
    return_to_param: str = "redirect_to"
    leeway: int = 0
    secret_setting: str = "JWT_REFRESH_SECRET"

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise SharedCookieConfigError("shared-cookie settings refused:\n- " + "\n- ".join(problems))

    @classmethod
    def from_env(cls, sign_in_url: str, env_var: str = "JWT_REFRESH_SECRET",
                 environ: Mapping[str, str] | None = None, **settings: Any) -> SharedCookieSource:
        value = (os.environ if environ is None else environ).get(env_var)
        if value is None:
            raise SharedCookieConfigError(
                f"environment variable {env_var} is not set: set it to the chat's refresh-token secret "
                f"(the same value the chat uses), or load the secret from a file")
        return cls(secret=value.encode("utf-8"), sign_in_url=sign_in_url, secret_setting=env_var, **settings)

    @classmethod
    def from_file(cls, sign_in_url: str, path: str | os.PathLike[str], **settings: Any) -> SharedCookieSource:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise SharedCookieConfigError(f"secret file {path}: cannot be read ({exc.strerror})") from exc
        # Secret files usually end with one newline the chat's env never had.
        return cls(secret=text.rstrip("\r\n").encode("utf-8"), sign_in_url=sign_in_url,
                   secret_setting=f"secret file {path}", **settings)

    def verify(self, cookies: str | Mapping[str, str] | None,
               now: float | None = None) -> SharedCookieIdentity | NotSignedIn:
        return verify_shared_cookie(self, cookies, now)


def _problems(source: SharedCookieSource) -> list[str]:
    problems = []
    if source.algorithm != PINNED_ALGORITHM:
        problems.append(f"algorithm {source.algorithm!r} is not allowed: the shared cookie is pinned to "
                        f"{PINNED_ALGORITHM}, the algorithm LibreChat signs with; remove the setting")
    secret_text = source.secret.decode("utf-8", "replace")
    if secret_text.strip() in PUBLISHED_DEFAULT_SECRETS:
        problems.append(
            f"{source.secret_setting} is the published {PUBLISHED_DEFAULT_SECRETS[secret_text.strip()]}: "
            f"anyone can sign in as anyone. Generate a new secret (openssl rand -hex 32), set it in the chat "
            f"and here, then restart both")
    elif len(source.secret) < MIN_SECRET_BYTES:
        problems.append(f"{source.secret_setting} is {len(source.secret)} bytes; at least {MIN_SECRET_BYTES} "
                        f"are needed: generate one with openssl rand -hex 32 and set it in the chat and here")
    if not source.cookie_name:
        problems.append("cookie_name is empty: set the name of the chat's session cookie (LibreChat: refreshToken)")
    if source.user_id_claim not in source.required_claims:
        problems.append(f"user_id_claim {source.user_id_claim!r} must be one of required_claims "
                        f"{list(source.required_claims)}")
    if not source.sign_in_url.startswith(("https://", "http://")):
        problems.append(f"sign_in_url {source.sign_in_url!r} must be the chat's absolute sign-in URL, "
                        f"e.g. https://chat.example.com/login")
    if source.leeway < 0:
        problems.append(f"leeway {source.leeway} must be zero or more seconds")
    return problems


def verify_shared_cookie(source: SharedCookieSource, cookies: str | Mapping[str, str] | None,
                         now: float | None = None) -> SharedCookieIdentity | NotSignedIn:
    """Verify the chat's cookie from a Cookie header (or parsed cookies),
    exactly as strictly as the chat's own verifier, LibreChat's `cookie` +
    `jsonwebtoken` (docs/shared-cookie.md), and stricter only in requiring
    `exp` and HS256."""
    jar = parse_cookie_header(cookies) if isinstance(cookies, str) else dict(cookies or {})
    if source.provider_cookie and jar.get(source.provider_cookie) in source.not_a_jwt_providers:
        return NotSignedIn(NOT_A_JWT_PROVIDER, f"{source.provider_cookie}={jar[source.provider_cookie]}: "
                                               "the session belongs to the identity provider, not a JWT")
    token = jar.get(source.cookie_name)
    if not token:
        return NotSignedIn(NO_COOKIE, f"no {source.cookie_name} cookie")
    if not _JWS_SHAPE.fullmatch(token):
        return NotSignedIn(MALFORMED, f"{source.cookie_name} is not three unpadded base64url segments")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        return NotSignedIn(MALFORMED, f"{source.cookie_name} is not a JWT: {exc}")
    if header.get("alg") != PINNED_ALGORITHM:
        return NotSignedIn(WRONG_ALGORITHM, f"token algorithm {header.get('alg')!r}, only {PINNED_ALGORITHM}")
    if not _canonical_signature(token):
        return NotSignedIn(BAD_SIGNATURE, "the signature is not spelled as its signer spells it")
    try:
        claims = jwt.decode(token, source.secret, algorithms=[PINNED_ALGORITHM],
                            options={**_CHECKED_HERE, "require": ["exp"]})
    except jwt.InvalidSignatureError:
        return NotSignedIn(BAD_SIGNATURE, "signature does not match the configured secret")
    except jwt.MissingRequiredClaimError as exc:
        return NotSignedIn(MISSING_CLAIM, str(exc))
    except jwt.PyJWTError as exc:
        return NotSignedIn(MALFORMED, str(exc))
    refused = _time_claims_refused(claims, source.leeway, time.time() if now is None else now)
    return _identity(source, claims) if refused is None else refused  # NotSignedIn is falsy


def _canonical_signature(token: str) -> bool:
    """jws compares the signature as text with the one it computes, so only
    the one spelling its encoder writes verifies (not the same bytes spelled
    with other unused low bits)."""
    signature = token.rsplit(".", 1)[1].encode("ascii")
    try:
        return base64url_encode(base64url_decode(signature)) == signature
    except ValueError:
        return False


def _is_number(value: Any) -> bool:
    """JavaScript's typeof value === 'number' for what JSON can hold."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _time_claims_refused(claims: dict[str, Any], leeway: int, now: float) -> NotSignedIn | None:
    """jsonwebtoken's exp and nbf rules: numbers only (never a numeric
    string), compared with the whole seconds of the clock; iat is not read."""
    clock = math.floor(now)
    exp, nbf = claims["exp"], claims.get("nbf")
    if "nbf" in claims:
        if not _is_number(nbf):
            return NotSignedIn(BAD_CLAIM, "claim 'nbf' must be a number")
        if nbf > clock + leeway:
            return NotSignedIn(EXPIRED, "token not valid yet (nbf)")
    if not _is_number(exp):
        return NotSignedIn(BAD_CLAIM, "claim 'exp' must be a number")
    if clock >= exp + leeway:
        return NotSignedIn(EXPIRED, "token expired")
    return None


def _identity(source: SharedCookieSource, claims: dict[str, Any]) -> SharedCookieIdentity | NotSignedIn:
    for name in source.required_claims:
        if name not in claims:
            return NotSignedIn(MISSING_CLAIM, f"claim {name!r} is missing")
    id_claims = [source.user_id_claim] + ([source.session_id_claim] if source.session_id_claim else [])
    for name in id_claims:
        value = claims.get(name)
        if value is not None and (not isinstance(value, str) or not value or not value.isprintable()):
            return NotSignedIn(BAD_CLAIM, f"claim {name!r} must be a non-empty string")
    session_id = claims.get(source.session_id_claim) if source.session_id_claim else None
    return SharedCookieIdentity(user_id=claims[source.user_id_claim], session_id=session_id,
                                expires_at=int(claims["exp"]), claims=claims)


def sign_in_link(source: SharedCookieSource, origin: str, next_path: str) -> str:
    """The chat's sign-in URL with a way back to ``next_path`` on ``origin``.

    The return target is a relative path when ``origin`` is the chat's own
    origin (LibreChat accepts only relative redirect_to targets); otherwise it
    is absolute, which LibreChat ignores, so the consoles' /unauthorized page also links back.
    """
    sign_in = urlsplit(source.sign_in_url)
    same_origin = f"{sign_in.scheme}://{sign_in.netloc}".lower() == origin.lower()
    target = next_path if same_origin else origin + next_path
    separator = "&" if sign_in.query else "?"
    return f"{source.sign_in_url}{separator}{urlencode({source.return_to_param: target})}"
