"""OIDC clients, managed like apps: exact redirect URIs, confidential (a
secret shown once, stored as a SHA-256 hash) or public (PKCE S256 then
required), allowed scopes, token lifetimes, and who may use the client:
the same group grants as apps (ostiary/access.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Row

from ostiary.access import may_enter, with_ancestors
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, Message, NotFound, Problems
from ostiary.services.base.input_limits import MAX_URL_LENGTH
from ostiary.services.base.text_rules import control_character_problem, nfc
from ostiary.store import Store, TenantScope
from ostiary.store.tables import groups, memberships, oidc_client_grants, oidc_clients, users

SCOPES = ("openid", "profile", "email", "groups", "offline_access")
DEFAULT_SCOPES = ("openid", "profile", "email", "groups")
ACCESS_SECONDS = (60, 86400, 3600)  # min, max, default
REFRESH_SECONDS = (300, 365 * 86400, 30 * 86400)
MAX_URIS = 20
SECRET_PREFIX = "osc_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewClient:
    row: Row
    secret: str | None  # shown once; None for a public client


@dataclass(frozen=True)
class ClientSettings:
    redirect_uris: Sequence[str] = ()
    post_logout_redirect_uris: Sequence[str] = ()
    backchannel_logout_uri: str | None = None
    scopes: Sequence[str] | str = DEFAULT_SCOPES
    public: bool = False
    all_users: bool = False
    groups: Sequence[str] = ()
    require_2fa: bool = False
    skip_consent: bool = False
    access_token_seconds: int = ACCESS_SECONDS[2]
    refresh_token_seconds: int = REFRESH_SECONDS[2]


def uri_problem(uri: str, allow_http: bool) -> Message | None:
    """Why `uri` cannot be registered (RFC 9700 §2.1: compared exactly, so it must be whole)."""
    if len(uri) > MAX_URL_LENGTH:
        return Message(N_("is %(length)d characters long: at most %(max)d are allowed"), length=len(uri), max=MAX_URL_LENGTH)
    if control_character_problem(uri) or " " in uri:
        return Message(N_("must not contain spaces or control characters"))
    try:
        parts = urlsplit(uri)
        parts.port
    except ValueError:
        return Message(N_("is not a URL"))
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return Message(N_("must be an absolute https:// URL"))
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme == "http" and not (allow_http or loopback):
        return Message(N_("must use https:// (http:// only for 127.0.0.1, ::1 or localhost)"))
    if parts.fragment or uri.endswith("#"):
        return Message(N_("must not have a fragment (#...)"))
    if parts.username or parts.password:
        return Message(N_("must not hold a user name or password"))
    return None


def _uris(values: Sequence[str], field: str, allow_http: bool, problems: Problems) -> list[str]:
    values = [v.strip() for v in values if v and v.strip()]
    if len(values) > MAX_URIS:
        problems.add(field, N_("%(count)d given: at most %(max)d"), count=len(values), max=MAX_URIS)
        return []
    for value in values:
        problem = uri_problem(value, allow_http)
        if problem:
            problems.add(field, N_('"%(value)s" %(problem)s'), value=value, problem=problem)
    return list(dict.fromkeys(values))


def _scopes(value: Sequence[str] | str, problems: Problems) -> str:
    items = value.replace(",", " ").split() if isinstance(value, str) else [s.strip() for s in value if s.strip()]
    unknown = [s for s in items if s not in SCOPES]
    if unknown:
        problems.add("scopes", N_("unknown scope %(unknown)s: choose from %(known)s"), unknown=", ".join(unknown),
                     known=" ".join(SCOPES))
    if "openid" not in items:
        problems.add("scopes", N_("must include openid: this is an OpenID Connect provider"))
    return " ".join(s for s in SCOPES if s in items)


def _lifetime(value: int, bounds: tuple[int, int, int], field: str, problems: Problems) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        problems.add(field, N_("must be a whole number of seconds from %(min)d to %(max)d; %(value)s is not"),
                     min=bounds[0], max=bounds[1], value=repr(value))
    return value


def _name(name: str, problems: Problems) -> str:
    name = nfc(name).strip()
    if not name or len(name) > 100:
        problems.add("name", N_("must be 1-100 characters"))
    elif control_character_problem(name):
        problems.add("name", control_character_problem(name))
    return name


def _validated(settings: ClientSettings, allow_http: bool, problems: Problems) -> dict:
    redirect = _uris(settings.redirect_uris, "redirect_uris", allow_http, problems)
    if not redirect:
        problems.add("redirect_uris", N_("at least one is needed: where the app receives its sign-in, e.g. "
                                         "https://grafana.acme-corp.com/login/generic_oauth"))
    post_logout = _uris(settings.post_logout_redirect_uris, "post_logout_redirect_uris", allow_http, problems)
    backchannel = None
    if settings.backchannel_logout_uri:
        backchannel = _uris([settings.backchannel_logout_uri], "backchannel_logout_uri", allow_http, problems)
        backchannel = backchannel[0] if backchannel else None
    if settings.all_users and settings.groups:
        problems.add("groups", N_("a client open to all users takes no group grants: pass --all or --group, not both"))
    return dict(
        redirect_uris=json.dumps(redirect), post_logout_redirect_uris=json.dumps(post_logout),
        backchannel_logout_uri=backchannel, scopes=_scopes(settings.scopes, problems),
        all_users=settings.all_users, require_2fa=settings.require_2fa, skip_consent=settings.skip_consent,
        access_token_seconds=_lifetime(settings.access_token_seconds, ACCESS_SECONDS, "access_token_seconds",
                                       problems),
        refresh_token_seconds=_lifetime(settings.refresh_token_seconds, REFRESH_SECONDS, "refresh_token_seconds",
                                        problems),
    )


def _group(scope: TenantScope, name: str) -> Row:
    row = scope.one(groups, groups.c.name == nfc(name).strip())
    if row is None:
        raise NotFound("group", N_('no group "%(name)s" in this tenant: create it with `ostiary group add`'), name=name)
    return row


def _by_name(scope: TenantScope, name: str) -> Row:
    name = nfc(name).strip()
    row = scope.one(oidc_clients, oidc_clients.c.name == name) or scope.one(oidc_clients,
                                                                         oidc_clients.c.client_id == name)
    if row is None:
        raise NotFound("client", N_('no OIDC client "%(name)s" in this tenant: see `ostiary oidc-client list`'), name=name)
    return row


def add_client(store: Store, tenant_id: int, actor: Actor, name: str, settings: ClientSettings,
               allow_http: bool = False) -> NewClient:
    problems = Problems()
    name = _name(name, problems)
    values = _validated(settings, allow_http, problems)
    problems.raise_if_any()
    secret = None if settings.public else SECRET_PREFIX + secrets.token_urlsafe(32)
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if scope.one(oidc_clients, oidc_clients.c.name == name):
            raise Conflict("name", N_('an OIDC client "%(name)s" already exists in this tenant'), name=name)
        granted = [_group(scope, g) for g in settings.groups]
        pk = scope.insert(oidc_clients, client_id=secrets.token_hex(12), name=name,
                          secret_hash=hash_secret(secret) if secret else None, enabled=True, created_at=now,
                          updated_at=now, **values)
        for g in granted:
            scope.insert(oidc_client_grants, client_id=pk, group_id=g.id)
        scope.audit(actor.name, "oidc_client.add", "oidc_client", pk, actor.addr, name=name,
                    public=settings.public, redirect_uris=json.loads(values["redirect_uris"]),
                    groups=[g.name for g in granted], all_users=settings.all_users)
        return NewClient(scope.one(oidc_clients, oidc_clients.c.id == pk), secret)


def update_client(store: Store, tenant_id: int, actor: Actor, name: str, allow_http: bool = False,
                  **changes) -> Row:
    """Changes the named settings only (the keys of ClientSettings, without `public` and `groups`, plus
    `enabled`); every other one stays as it is."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = _by_name(scope, name)
        current = settings_of(row)
        merged = {**current.__dict__, **{k: v for k, v in changes.items() if k != "enabled" and v is not None}}
        merged["groups"] = ()
        problems = Problems()
        values = _validated(ClientSettings(**merged), allow_http, problems)
        problems.raise_if_any()
        if changes.get("enabled") is not None:
            values["enabled"] = bool(changes["enabled"])
        scope.update(oidc_clients, oidc_clients.c.id == row.id, updated_at=time.time(), **values)
        scope.audit(actor.name, "oidc_client.update", "oidc_client", row.id, actor.addr,
                    **{k: v for k, v in changes.items() if v is not None})
        return scope.one(oidc_clients, oidc_clients.c.id == row.id)


def settings_of(row: Row) -> ClientSettings:
    return ClientSettings(
        redirect_uris=json.loads(row.redirect_uris), post_logout_redirect_uris=json.loads(row.post_logout_redirect_uris),
        backchannel_logout_uri=row.backchannel_logout_uri, scopes=row.scopes, public=row.secret_hash is None,
        all_users=row.all_users, require_2fa=row.require_2fa, skip_consent=row.skip_consent,
        access_token_seconds=row.access_token_seconds, refresh_token_seconds=row.refresh_token_seconds,
    )


def rotate_secret(store: Store, tenant_id: int, actor: Actor, name: str) -> str:
    """A new secret, shown once; the old one stops working at once."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = _by_name(scope, name)
        if row.secret_hash is None:
            raise Conflict("client", N_('"%(name)s" is a public client: it has no secret to rotate'), name=row.name)
        scope.update(oidc_clients, oidc_clients.c.id == row.id, secret_hash=hash_secret(secret),
                     updated_at=time.time())
        scope.audit(actor.name, "oidc_client.rotate_secret", "oidc_client", row.id, actor.addr, name=row.name)
    return secret


def delete_client(store: Store, tenant_id: int, actor: Actor, name: str) -> None:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = _by_name(scope, name)
        scope.delete(oidc_clients, oidc_clients.c.id == row.id)  # its grants, codes and tokens go with it
        scope.audit(actor.name, "oidc_client.delete", "oidc_client", row.id, actor.addr, name=row.name)


def grant(store: Store, tenant_id: int, actor: Actor, name: str, group: str) -> None:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row, g = _by_name(scope, name), _group(scope, group)
        if scope.one(oidc_client_grants, oidc_client_grants.c.client_id == row.id,
                     oidc_client_grants.c.group_id == g.id):
            return
        scope.insert(oidc_client_grants, client_id=row.id, group_id=g.id)
        scope.audit(actor.name, "oidc_client.grant", "oidc_client", row.id, actor.addr, group=g.name)


def revoke(store: Store, tenant_id: int, actor: Actor, name: str, group: str) -> None:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row, g = _by_name(scope, name), _group(scope, group)
        if not scope.delete(oidc_client_grants, oidc_client_grants.c.client_id == row.id,
                            oidc_client_grants.c.group_id == g.id):
            raise NotFound("group", N_('"%(group)s" has no grant on "%(client)s"'), group=g.name, client=row.name)
        scope.audit(actor.name, "oidc_client.revoke", "oidc_client", row.id, actor.addr, group=g.name)


def get_client(store: Store, tenant_id: int, name: str) -> Row:
    with store.read() as conn:
        return _by_name(TenantScope(conn, tenant_id), name)


def list_clients(store: Store, tenant_id: int) -> list[Row]:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(oidc_clients, order_by=oidc_clients.c.name)


def grant_names(store: Store, tenant_id: int, client_pk: int) -> list[str]:
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        ids = {r.group_id for r in scope.rows(oidc_client_grants, oidc_client_grants.c.client_id == client_pk)}
        return sorted(r.name for r in scope.rows(groups) if r.id in ids)


def client_by_client_id(store: Store, tenant_id: int, client_id: str) -> Row | None:
    """The enabled client of this tenant with that public id; another tenant's client is not found."""
    if not client_id or len(client_id) > 64:
        return None
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(oidc_clients, oidc_clients.c.client_id == client_id)
    return row if row is not None and row.enabled else None


def secret_matches(row: Row, secret: str | None) -> bool:
    if row.secret_hash is None or not secret:
        return False
    return hmac.compare_digest(row.secret_hash, hash_secret(secret))


def may_use(store: Store, tenant_id: int, client_pk: int, user_id: int) -> bool:
    """The apps' rule (ostiary/access.py): a grant to a group admits its members and
    the members of every group below it; the user must be active."""
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        client = scope.one(oidc_clients, oidc_clients.c.id == client_pk)
        user = scope.one(users, users.c.id == user_id)
        if client is None or user is None or not user.active or not client.enabled:
            return False
        parent_of = {g.id: g.parent_id for g in scope.rows(groups)}
        direct = [m.group_id for m in scope.rows(memberships, memberships.c.user_id == user_id)]
        granted = frozenset(r.group_id for r in scope.rows(oidc_client_grants,
                                                           oidc_client_grants.c.client_id == client_pk))
    return may_enter(with_ancestors(direct, parent_of), client.all_users, granted)


def get_client_by_id(store: Store, tenant_id: int, client_pk: int) -> Row:
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(oidc_clients, oidc_clients.c.id == client_pk)
    if row is None:
        raise NotFound("client", N_("no such OIDC client in this tenant"))
    return row
