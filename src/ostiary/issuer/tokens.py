"""Codes and tokens at rest, as Authlib's server sees them: every value is
stored as its SHA-256 only. A code is used once: the first exchange claims
it in one statement, and a second one revokes every token the first issued.
A refresh token is exchanged once (rotation): a second use revokes its whole
family. Every token names the session it came from and is refused once that
session has ended, the person is disabled or their grant is gone
(docs/oidc-provider.md, "Tokens")."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin as OidcCodeMixin
from sqlalchemy import Row, select, update

from ostiary.identity.method import amr_values
from ostiary.issuer import clients as clients_service
from ostiary.store import Store, TenantScope
from ostiary.store.tables import oidc_codes, oidc_consents, oidc_tokens, sessions, users

# Codes live a minute at most (OpenID Connect Core §3.1.3.2 advises short; the issue asks ≤ 60 s).
CODE_SECONDS = 60
ACR_ONE_FACTOR = "urn:ostiary:acr:1fa"
ACR_TWO_FACTORS = "urn:ostiary:acr:2fa"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Client(ClientMixin):
    """A stored client as Authlib asks about it."""

    def __init__(self, row: Row):
        self.row = row
        self.redirect_uris = json.loads(row.redirect_uris)
        self.public = row.secret_hash is None
        self.client_metadata = {"post_logout_redirect_uris": json.loads(row.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self):
        return None  # every request names its redirect_uri, matched exactly

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = set(self.row.scopes.split())
        return " ".join(dict.fromkeys(s for s in scope.split() if s in allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact, character for character (RFC 9700 §2.1)

    def check_client_secret(self, client_secret: str) -> bool:
        return clients_service.secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Person:
    """The signed-in person a code or token is for, with the session it came from."""

    id: int
    tenant_id: int
    session_id: str
    auth_time: float
    amr: list[str]
    second_factor: bool

    def get_user_id(self) -> int:
        return self.id

    @property
    def acr(self) -> str:
        return ACR_TWO_FACTORS if self.second_factor else ACR_ONE_FACTOR


class Code(OidcCodeMixin):
    def __init__(self, row: Row, person: Person | None = None):
        self.row = row
        self.person = person

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self):
        return self.row.nonce

    def get_auth_time(self):
        return int(self.row.auth_time)

    def get_acr(self):
        return self.person.acr if self.person else None

    def get_amr(self):
        return self.person.amr if self.person and self.person.amr else None


class Token(TokenMixin):
    def __init__(self, row: Row, client_id: str):
        self.row = row
        self.client_id = client_id

    def check_client(self, client) -> bool:
        return client.row.id == self.row.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.row.expires_at - self.row.created_at))

    def is_expired(self) -> bool:
        return self.row.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


def live_person(store: Store, tenant_id: int, session_id: str, user_id: int) -> Person | None:
    """The person behind a code or token, while their session lives and they are active."""
    now = time.time()
    with store.read() as conn:
        row = conn.execute(
            select(sessions, users.c.active).join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.id == session_id, sessions.c.tenant_id == tenant_id, sessions.c.user_id == user_id)
        ).first()
    if row is None or row.ended_at is not None or row.expires_at <= now or not row.active:
        return None
    return Person(user_id, tenant_id, session_id, row.created_at, amr_values(row.methods), bool(row.second_factor))


def save_code(store: Store, tenant_id: int, client: Client, person: Person, code: str, *, redirect_uri: str,
              scope: str, nonce: str | None, challenge: str | None, challenge_method: str | None) -> None:
    now = time.time()
    with store.write() as conn:
        TenantScope(conn, tenant_id).insert(
            oidc_codes, code_hash=digest(code), client_id=client.row.id, user_id=person.id,
            session_id=person.session_id, redirect_uri=redirect_uri, scope=scope, nonce=nonce,
            code_challenge=challenge, code_challenge_method=challenge_method, auth_time=person.auth_time,
            created_at=now, expires_at=now + CODE_SECONDS)


def claim_code(store: Store, tenant_id: int, client: Client, code: str) -> Code | None:
    """The code, claimed for this one exchange; None when unknown, another client's or
    expired. A code claimed before is a replay: what it issued is revoked."""
    if not code or len(code) > 200:
        return None
    hashed, now = digest(code), time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = scope.one(oidc_codes, oidc_codes.c.code_hash == hashed, oidc_codes.c.client_id == client.row.id)
        if row is None:
            return None
        if not scope.update(oidc_codes, oidc_codes.c.code_hash == hashed, oidc_codes.c.used_at.is_(None),
                            used_at=now):
            revoked = scope.update(oidc_tokens, oidc_tokens.c.family == hashed[:32], oidc_tokens.c.revoked_at.is_(None),
                                   revoked_at=now)
            scope.audit(f"client:{client.row.client_id}", "oidc.code_replayed", "oidc_client", client.row.id,
                        user_id=row.user_id, tokens_revoked=revoked)
            return None
        if row.expires_at <= now:
            return None
    return Code(row)


def nonce_used(store: Store, tenant_id: int, client: Client, nonce: str) -> bool:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).one(oidc_codes, oidc_codes.c.client_id == client.row.id,
                                                oidc_codes.c.nonce == nonce) is not None


@dataclass(frozen=True)
class Issued:
    access_token: str
    refresh_token: str | None


def new_token_values(include_refresh: bool) -> Issued:
    return Issued(secrets.token_urlsafe(32), secrets.token_urlsafe(32) if include_refresh else None)


def save_tokens(store: Store, tenant_id: int, client: Client, person: Person, token: dict, *, family: str,
                code_hash: str | None) -> None:
    now = time.time()
    common = dict(client_id=client.row.id, user_id=person.id, session_id=person.session_id, family=family,
                  code_hash=code_hash, scope=token.get("scope", ""), auth_time=person.auth_time, created_at=now)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        scope.insert(oidc_tokens, kind="access", token_hash=digest(token["access_token"]),
                     expires_at=now + token["expires_in"], **common)
        if token.get("refresh_token"):
            scope.insert(oidc_tokens, kind="refresh", token_hash=digest(token["refresh_token"]),
                         expires_at=now + client.row.refresh_token_seconds, **common)


def find_token(store: Store, tenant_id: int, value: str, kind: str | None = None) -> Row | None:
    if not value or len(value) > 200:
        return None
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(oidc_tokens, oidc_tokens.c.token_hash == digest(value))
    return row if row is not None and (kind is None or row.kind == kind) else None


def token_is_live(store: Store, tenant_id: int, row: Row) -> Person | None:
    """The person a token acts for, or None when it is expired, revoked, its
    session ended, the person disabled or no longer granted the client."""
    if row.revoked_at is not None or row.expires_at <= time.time():
        return None
    person = live_person(store, tenant_id, row.session_id, row.user_id)
    if person is None or not clients_service.may_use(store, tenant_id, row.client_id, row.user_id):
        return None
    return person


def claim_refresh_token(store: Store, tenant_id: int, client: Client, value: str) -> Row | None:
    """The refresh token, claimed for this one exchange. A token exchanged
    before is being reused (stolen, or a replay): its whole family is revoked."""
    row = find_token(store, tenant_id, value, "refresh")
    if row is None or row.client_id != client.row.id:
        return None
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if not scope.update(oidc_tokens, oidc_tokens.c.id == row.id, oidc_tokens.c.used_at.is_(None), used_at=now):
            revoked = revoke_family_in(scope, row.family, now)
            scope.audit(f"client:{client.row.client_id}", "oidc.refresh_reused", "oidc_client", client.row.id,
                        user_id=row.user_id, tokens_revoked=revoked)
            return None
    return row


def revoke_family_in(scope: TenantScope, family: str, now: float | None = None) -> int:
    return scope.update(oidc_tokens, oidc_tokens.c.family == family, oidc_tokens.c.revoked_at.is_(None),
                        revoked_at=now or time.time())


def revoke(store: Store, tenant_id: int, row: Row) -> None:
    """RFC 7009: a refresh token takes its whole grant with it; an access token only itself."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if row.kind == "refresh":
            revoke_family_in(scope, row.family)
        else:
            scope.update(oidc_tokens, oidc_tokens.c.id == row.id, oidc_tokens.c.revoked_at.is_(None),
                         revoked_at=time.time())


def revoke_for_sessions(conn, session_ids: list[str]) -> int:
    """Every token of these sessions, in the caller's transaction (sign-out ends them too)."""
    if not session_ids:
        return 0
    return conn.execute(update(oidc_tokens).where(oidc_tokens.c.session_id.in_(session_ids),
                                                  oidc_tokens.c.revoked_at.is_(None))
                        .values(revoked_at=time.time())).rowcount


def consented(store: Store, tenant_id: int, client_pk: int, user_id: int, scope: str) -> bool:
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(oidc_consents, oidc_consents.c.client_id == client_pk,
                                               oidc_consents.c.user_id == user_id)
    return row is not None and set(scope.split()) <= set(row.scope.split())


def record_consent(store: Store, tenant_id: int, client_pk: int, user_id: int, scope: str) -> None:
    with store.write() as conn:
        s = TenantScope(conn, tenant_id)
        row = s.one(oidc_consents, oidc_consents.c.client_id == client_pk, oidc_consents.c.user_id == user_id)
        if row is None:
            s.insert(oidc_consents, client_id=client_pk, user_id=user_id, scope=scope, created_at=time.time())
        else:
            merged = " ".join(dict.fromkeys(row.scope.split() + scope.split()))
            s.update(oidc_consents, oidc_consents.c.client_id == client_pk, oidc_consents.c.user_id == user_id,
                     scope=merged)
        s.audit(f"user:{user_id}", "oidc.consent", "oidc_client", client_pk, scope=scope)
