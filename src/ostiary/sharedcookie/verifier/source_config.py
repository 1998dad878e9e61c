"""The chat's shared cookie as the identity source of a protected domain or an
app (docs/contract.md §9): the settings stored in the database, and the
verifier built from them. The secret never enters the database: only the name of the
environment variable or file that holds it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field

from ostiary.translations import N_, Message
from ostiary.sharedcookie.verifier.jwtcookie import SharedCookieConfigError, SharedCookieSource

_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_CLAIM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True)
class SharedCookieSettings:
    sign_in_url: str
    cookie_name: str = "refreshToken"
    secret_env: str | None = "JWT_REFRESH_SECRET"
    secret_file: str | None = None
    user_id_claim: str = "id"
    required_claims: tuple[str, ...] = ("id", "sessionId")
    provider_cookie: str | None = "token_provider"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SharedCookieSettings":
        data = json.loads(text)
        data["required_claims"] = tuple(data.get("required_claims", ()))
        return cls(**data)


def settings_problems(s: SharedCookieSettings, allow_http: bool) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with the settings themselves; each message a
    translations.Message (English as text; the admin pages translate it, docs/translations.md)."""
    out = []
    schemes = ("https://", "http://") if allow_http else ("https://",)
    if not s.sign_in_url.startswith(schemes) or any(ord(c) <= 32 for c in s.sign_in_url):
        out.append(("sign_in_url", Message(N_('"%(url)s" must be the chat\'s absolute https sign-in URL, e.g. '
                                              'https://chat.example.com/login'), url=s.sign_in_url)))
    if not _COOKIE_NAME.match(s.cookie_name):
        out.append(("cookie_name", Message(N_('"%(name)s" is not a cookie name (letters, digits and '
                                              '!#$%%&\'*+-.^_`|~)'), name=s.cookie_name)))
    if bool(s.secret_env) == bool(s.secret_file):
        out.append(("secret", Message(N_("name exactly one of --secret-env or --secret-file"))))
    if s.secret_env and not _ENV_NAME.match(s.secret_env):
        out.append(("secret_env", Message(N_('"%(name)s" is not an environment variable name'), name=s.secret_env)))
    bad_claims = [c for c in (s.user_id_claim, *s.required_claims) if not _CLAIM.match(c)]
    if bad_claims:
        out.append(("claims", Message(N_("not claim names: %(names)s"), names=", ".join(bad_claims))))
    if s.user_id_claim not in s.required_claims:
        out.append(("user_id_claim", Message(N_('"%(claim)s" must also be a required claim'), claim=s.user_id_claim)))
    return out


@dataclass(frozen=True)
class BrokenSource:
    """Settings whose secret cannot be used: every check refuses (fail closed)."""

    problem: str
    sign_in_url: str = field(default="")


def build_source(s: SharedCookieSettings, environ=None) -> SharedCookieSource | BrokenSource:
    """The verifier, or BrokenSource naming why it cannot be built (missing
    secret, a published default secret, a too-short secret)."""
    options = dict(cookie_name=s.cookie_name, user_id_claim=s.user_id_claim, required_claims=s.required_claims,
                   provider_cookie=s.provider_cookie,
                   session_id_claim="sessionId" if "sessionId" in s.required_claims else None)
    try:
        if s.secret_file:
            return SharedCookieSource.from_file(s.sign_in_url, s.secret_file, **options)
        return SharedCookieSource.from_env(s.sign_in_url, s.secret_env, environ=environ or os.environ, **options)
    except SharedCookieConfigError as exc:
        return BrokenSource(str(exc), s.sign_in_url)
