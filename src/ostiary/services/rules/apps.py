"""Proxy apps: where each lives, what is public, which identity headers it
gets, and who may enter."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from sqlalchemy import Row

from ostiary.hostnames import is_under
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, NotFound, Problems
from ostiary.services.base.input_limits import MAX_PUBLIC_PATH_LENGTH, MAX_PUBLIC_PATHS, MAX_URL_LENGTH
from ostiary.services.base.text_rules import control_character_problem, nfc
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import app_grants, apps, domains, groups
from ostiary.urlrules import parse_app_url, path_pattern_problem
from ostiary.wire import IDENTITY_HEADER_KEYS


def parse_header_keys(value: str | Sequence[str] | None, problems: Problems) -> list[str]:
    if value is None:
        return list(IDENTITY_HEADER_KEYS)
    items = value.split(",") if isinstance(value, str) else list(value)
    keys = [k.strip().replace("-", "_").lower() for k in items if k.strip()]
    if keys == ["none"]:
        return []
    unknown = [k for k in keys if k not in IDENTITY_HEADER_KEYS]
    if unknown:
        problems.add("headers", N_("unknown identity header %(unknown)s: choose from %(known)s or none"),
                     unknown=", ".join(unknown), known=", ".join(IDENTITY_HEADER_KEYS))
    # Keep the canonical order, without duplicates.
    return [k for k in IDENTITY_HEADER_KEYS if k in keys]


def _validate_name(name: str, problems: Problems) -> str:
    name = nfc(name).strip()
    if not name or len(name) > 100:
        problems.add("name", N_("must be 1-100 characters"))
    elif control_character_problem(name):
        problems.add("name", control_character_problem(name))
    return name


def _validate_url(url: str, allow_http: bool, problems: Problems):
    if len(url) > MAX_URL_LENGTH:
        problems.add("url", N_("is %(length)d characters long: at most %(max)d are allowed"), length=len(url), max=MAX_URL_LENGTH)
        return None
    location, reason = parse_app_url(url, allow_http)
    if reason:
        problems.add("url", N_('"%(url)s" %(reason)s'), url=url, reason=reason)
    return location


def _validate_public_paths(paths: Sequence[str], problems: Problems) -> list[str]:
    if len(paths) > MAX_PUBLIC_PATHS:
        problems.add("public_paths", N_("%(count)d given: at most %(max)d public paths per app "
                                        "(a wildcard such as /static/* covers many)"), count=len(paths), max=MAX_PUBLIC_PATHS)
        return []
    out = []
    for p in paths:
        if len(p) > MAX_PUBLIC_PATH_LENGTH:
            problems.add("public_path", N_("a public path of %(length)d characters: at most %(max)d"),
                         length=len(p), max=MAX_PUBLIC_PATH_LENGTH)
            continue
        problem = path_pattern_problem(p.strip())
        if problem:
            problems.add("public_path", N_('"%(path)s" %(problem)s'), path=p, problem=problem)
        else:
            out.append(p.strip())
    return out


def _by_name(scope: TenantScope, name: str) -> Row:
    row = scope.one(apps, apps.c.name == nfc(name).strip())
    if row is None:
        raise NotFound("app", N_('no proxy app "%(name)s" in this tenant: see `ostiary app list`'), name=name)
    return row


def get_app(store: Store, tenant_id: int, name: str) -> Row:
    with store.read() as conn:
        return _by_name(TenantScope(conn, tenant_id), name)


def list_apps(store: Store, tenant_id: int, search: str = "", limit: int = 1000, offset: int = 0) -> list[Row]:
    where = [apps.c.name.like(f"%{search}%")] if search else []
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(apps, *where, order_by=apps.c.name, limit=limit, offset=offset)


def app_grant_names(store: Store, tenant_id: int, app_id: int) -> list[str]:
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        ids = {r.group_id for r in scope.rows(app_grants, app_grants.c.app_id == app_id)}
        return sorted(r.name for r in scope.rows(groups) if r.id in ids)


def add_app(
    store: Store,
    tenant_id: int,
    actor: Actor,
    *,
    name: str,
    url: str,
    public_paths: Sequence[str] = (),
    headers: str | Sequence[str] | None = None,
    all_users: bool = False,
    groups_granted: Sequence[str] = (),
    require_2fa: bool = False,
    allow_http: bool = False,
) -> Row:
    problems = Problems()
    name = _validate_name(name, problems)
    location = _validate_url(url, allow_http, problems)
    paths = _validate_public_paths(public_paths, problems)
    header_keys = parse_header_keys(headers, problems)
    if all_users and groups_granted:
        problems.add("groups", N_("an app available to all takes no group grants: pass --all or --group, not both"))
    problems.raise_if_any()
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if scope.one(apps, apps.c.name == name):
            raise Conflict("name", N_('a proxy app "%(name)s" already exists in this tenant'), name=name)
        candidates = [d for d in scope.rows(domains) if is_under(location.host, d.name)]
        if not candidates:
            raise NotFound(
                "url", N_('"%(host)s" is not under any protected domain of this tenant: '
                          'register it first with `ostiary domain add`'), host=location.host
            )
        domain = max(candidates, key=lambda d: len(d.name))
        clash = scope.one(apps, apps.c.host == location.host, apps.c.port.is_(location.port) if location.port is None
                          else apps.c.port == location.port, apps.c.path_prefix == location.path_prefix)
        if clash is not None:
            raise Conflict("url", N_('proxy app "%(name)s" already serves %(url)s'), name=clash.name, url=location.url)
        group_rows = [_group(scope, g) for g in groups_granted]
        app_id = scope.insert(
            apps, domain_id=domain.id, name=name, url=location.url, host=location.host, port=location.port,
            path_prefix=location.path_prefix, public_paths=json.dumps(paths), identity_headers=",".join(header_keys),
            all_users=all_users, enabled=True, require_2fa=require_2fa, created_at=now, updated_at=now,
        )
        for g in group_rows:
            scope.insert(app_grants, app_id=app_id, group_id=g.id)
        scope.audit(actor.name, "app.add", "app", app_id, actor.addr, name=name, url=location.url,
                    groups=[g.name for g in group_rows], all_users=all_users)
        scope.changed(Entity.APP, app_id)
        return scope.one(apps, apps.c.id == app_id)


def _group(scope: TenantScope, name: str) -> Row:
    row = scope.one(groups, groups.c.name == nfc(name).strip())
    if row is None:
        raise NotFound("group", N_('no group "%(name)s" in this tenant: create it with `ostiary group add`'), name=name)
    return row


def update_app(
    store: Store, tenant_id: int, actor: Actor, name: str, *, public_paths: Sequence[str] | None = None,
    headers: str | Sequence[str] | None = None, all_users: bool | None = None, enabled: bool | None = None,
    require_2fa: bool | None = None, url: str | None = None, allow_http: bool = False,
) -> Row:
    problems = Problems()
    values: dict = {}
    location = None
    if url is not None:
        location = _validate_url(url, allow_http, problems)
    if public_paths is not None:
        values["public_paths"] = json.dumps(_validate_public_paths(public_paths, problems))
    if headers is not None:
        values["identity_headers"] = ",".join(parse_header_keys(headers, problems))
    problems.raise_if_any()
    for key, val in (("all_users", all_users), ("enabled", enabled), ("require_2fa", require_2fa)):
        if val is not None:
            values[key] = val
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        app = _by_name(scope, name)
        if location is not None and location.url != app.url:
            values.update(_relocation(scope, app, location))
        scope.update(apps, apps.c.id == app.id, updated_at=time.time(), **values)
        scope.audit(actor.name, "app.update", "app", app.id, actor.addr,
                    **{k: (json.loads(v) if k == "public_paths" else v) for k, v in values.items()})
        scope.changed(Entity.APP, app.id)
        return scope.one(apps, apps.c.id == app.id)


def _relocation(scope: TenantScope, app: Row, location) -> dict:
    """The columns that move an app to a new URL, under a protected domain
    of the tenant and not already served by another app."""
    candidates = [d for d in scope.rows(domains) if is_under(location.host, d.name)]
    if not candidates:
        raise NotFound("url", N_('"%(host)s" is not under any protected domain of this tenant: register it first'),
                       host=location.host)
    port_match = apps.c.port.is_(None) if location.port is None else apps.c.port == location.port
    clash = scope.one(apps, apps.c.host == location.host, port_match, apps.c.path_prefix == location.path_prefix,
                      apps.c.id != app.id)
    if clash is not None:
        raise Conflict("url", N_('proxy app "%(name)s" already serves %(url)s'), name=clash.name, url=location.url)
    domain = max(candidates, key=lambda d: len(d.name))
    return dict(url=location.url, host=location.host, port=location.port, path_prefix=location.path_prefix,
                domain_id=domain.id)


def grant(store: Store, tenant_id: int, actor: Actor, app_name: str, group: str) -> None:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        app, g = _by_name(scope, app_name), _group(scope, group)
        if scope.one(app_grants, app_grants.c.app_id == app.id, app_grants.c.group_id == g.id):
            return
        scope.insert(app_grants, app_id=app.id, group_id=g.id)
        scope.audit(actor.name, "app.grant", "app", app.id, actor.addr, group=g.name)
        scope.changed(Entity.APP, app.id)


def revoke(store: Store, tenant_id: int, actor: Actor, app_name: str, group: str) -> None:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        app, g = _by_name(scope, app_name), _group(scope, group)
        if not scope.delete(app_grants, app_grants.c.app_id == app.id, app_grants.c.group_id == g.id):
            raise NotFound("group", N_('"%(group)s" has no grant on "%(app)s"'), group=g.name, app=app.name)
        scope.audit(actor.name, "app.revoke", "app", app.id, actor.addr, group=g.name)
        scope.changed(Entity.APP, app.id)


def delete_app(store: Store, tenant_id: int, actor: Actor, name: str) -> None:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        app = _by_name(scope, name)
        scope.delete(app_grants, app_grants.c.app_id == app.id)
        scope.delete(apps, apps.c.id == app.id)
        scope.audit(actor.name, "app.delete", "app", app.id, actor.addr, name=app.name)
        scope.changed(Entity.APP, app.id)
