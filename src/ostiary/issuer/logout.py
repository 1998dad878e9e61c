"""Sign-out reaches OIDC clients (docs/oidc-provider.md, "Sign-out"):

- Back-channel logout (OpenID Connect Back-Channel Logout 1.0): whenever
  sessions end — sign-out, sign out everywhere, an administrator ending
  them, a disabled user, a changed password, idle expiry — every token they
  issued is revoked and each client that registered a back-channel URI and
  holds tokens of those sessions is sent a signed logout token. Delivery
  starts at once, in the background, so no sign-out waits on an app.
- RP-initiated logout 1.0: Authlib's end-session endpoint, with the
  `id_token_hint` checked against this tenant's issuer and the
  post-logout redirect URI matched exactly against the client's list."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass

import httpx
from authlib.oidc.rpinitiated import EndSessionEndpoint
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from joserfc import jwt
from sqlalchemy import select

from ostiary.issuer import claims, keys
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.rules import tenants as tenants_service
from ostiary.store import Store, TenantScope
from ostiary.store.tables import oidc_clients, oidc_tokens, sessions

log = logging.getLogger("ostiary.issuer")
EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_SECONDS = 120
DELIVERY_TIMEOUT = 5.0


@dataclass(frozen=True)
class Notice:
    uri: str
    logout_token: str


class EndSession(EndSessionEndpoint):
    def get_server_jwks(self):
        return keys.public_jwks(self.server.ctx.store)

    def get_algorithms(self):
        return list(keys.ALGORITHMS)

    def _validate_id_token_hint(self, id_token_hint):
        found = super()._validate_id_token_hint(id_token_hint)
        # Every tenant's issuer shares the keys: the hint must come from this one.
        if found.get("iss") != self.server.ctx.issuer:
            raise InvalidRequestError("id_token_hint was not issued by this issuer")
        return found

    def resolve_client_from_id_token_claims(self, id_token_claims):
        aud = id_token_claims.get("aud")
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]
        return self.server.query_client(aud) if isinstance(aud, str) else None

    def end_session(self, end_session_request):
        pass  # the portal ends the browser's own session, after the person confirms


def issuer_for(store: Store, tenant_id: int, public_url) -> str:
    slug = next(t.slug for t in tenants_service.list_tenants(store) if t.id == tenant_id)
    host = tenants_service.tenant_host(tenants_service.get_base_domain(store) or "", slug)
    return public_url(host, "").rstrip("/")


def revoke_and_collect(store: Store, tenant_id: int, session_ids: list[str] | None, user_id: int | None,
                       issuer: str) -> list[Notice]:
    """Revokes the live tokens of sessions that have ended (these, or any of this user's)
    and returns one logout token per client and session to deliver. Idempotent: tokens
    already revoked are not announced twice."""
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        where = [oidc_tokens.c.revoked_at.is_(None), oidc_tokens.c.tenant_id == tenant_id,
                 sessions.c.ended_at.is_not(None)]
        if session_ids is not None:
            where.append(oidc_tokens.c.session_id.in_(session_ids))
        if user_id is not None:
            where.append(oidc_tokens.c.user_id == user_id)
        rows = list(conn.execute(
            select(oidc_tokens.c.id, oidc_tokens.c.session_id, oidc_tokens.c.user_id, oidc_clients.c.client_id,
                   oidc_clients.c.backchannel_logout_uri)
            .join(sessions, sessions.c.id == oidc_tokens.c.session_id)
            .join(oidc_clients, oidc_clients.c.id == oidc_tokens.c.client_id).where(*where)))
        if not rows:
            return []
        scope.update(oidc_tokens, oidc_tokens.c.id.in_([r.id for r in rows]), oidc_tokens.c.revoked_at.is_(None),
                     revoked_at=now)
    targets = {(r.client_id, r.backchannel_logout_uri, r.session_id, r.user_id) for r in rows
               if r.backchannel_logout_uri}
    if not targets:
        return []
    key = keys.signing_key(store, keys.DEFAULT_ALGORITHM)
    notices = []
    for client_id, uri, session_id, uid in sorted(targets):
        payload = {"iss": issuer, "aud": client_id, "iat": int(now), "exp": int(now) + LOGOUT_TOKEN_SECONDS,
                   "jti": secrets.token_hex(16), "sub": claims.subject(uid), "sid": session_id,
                   "events": {EVENT: {}}}
        token = jwt.encode({"alg": keys.DEFAULT_ALGORITHM, "kid": key.kid, "typ": "logout+jwt"}, payload, key)
        notices.append(Notice(uri, token))
    return notices


def deliver(notices: list[Notice]) -> None:
    with httpx.Client(timeout=DELIVERY_TIMEOUT, follow_redirects=False) as http:
        for notice in notices:
            try:
                r = http.post(notice.uri, data={"logout_token": notice.logout_token},
                              headers={"cache-control": "no-store"})
                if r.status_code != 200:
                    log.warning("back-channel logout to %s answered %s", notice.uri, r.status_code)
            except httpx.HTTPError as exc:
                log.warning("back-channel logout to %s failed: %s", notice.uri, exc)


_public_url = None
_wait = False


def sessions_ended(store: Store, tenant_id: int, session_ids, user_id) -> None:
    notices = revoke_and_collect(store, tenant_id, session_ids, user_id, issuer_for(store, tenant_id, _public_url))
    if notices:
        sender = threading.Thread(target=deliver, args=(notices,), name="backchannel-logout", daemon=True)
        sender.start()
        if _wait:
            sender.join()


def install(public_url, wait: bool = False) -> None:
    """Sign-outs from now on reach the clients' back-channel URIs: the portal calls this at
    start; the command line too, with `wait` (its process ends right after the command)."""
    global _public_url, _wait
    _public_url, _wait = public_url, wait
    sessions_service.on_sessions_ended(sessions_ended)
