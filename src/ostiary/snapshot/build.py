"""Filling the snapshot from the store: all at once at start, then entry by
entry as the change log names what changed."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import Connection, func, select

from ostiary import secretbox
from ostiary.access import with_ancestors
from ostiary.dns.status import DomainStatus
from ostiary.secretbox import SecretBox
from ostiary.snapshot.model import AppView, DomainView, GroupView, Snapshot, TenantView, UserView
from ostiary.store.changes import Entity
from ostiary.store.tables import (
    app_grants, apps, change_log, domains, groups, installation, memberships, sessions, signing_keys, tenants, users,
    webauthn_credentials,
)
from ostiary.tokens import SigningKey


def _tenant_view(row, base_domain: str | None) -> TenantView:
    host = f"{row.slug}.{base_domain}" if base_domain else ""
    return TenantView(row.id, row.slug, host, row.session_idle_seconds, row.session_absolute_seconds,
                      row.name, row.contact, row.accent_colour, row.logo_version, row.second_factor_policy)


def _shared_cookie_source(text: str | None):
    if not text:
        return None
    from ostiary.sharedcookie.verifier.source_config import SharedCookieSettings, build_source

    return build_source(SharedCookieSettings.from_json(text))


def _domain_view(row) -> DomainView:
    return DomainView(row.id, row.tenant_id, row.name, row.portal_host, row.status == DomainStatus.VERIFIED,
                      _shared_cookie_source(row.shared_cookie))


def _app_view(row, granted: frozenset[int]) -> AppView:
    patterns = json.loads(row.public_paths or "[]")
    exact = frozenset(p for p in patterns if not p.endswith("/*"))
    prefixes = tuple(p[:-1] for p in patterns if p.endswith("/*"))
    keys = tuple(k for k in row.identity_headers.split(",") if k)
    return AppView(
        row.id, row.tenant_id, row.domain_id, row.name, row.url, row.host, row.port, row.path_prefix, exact,
        prefixes, keys, bool(row.all_users), granted, bool(row.enabled), bool(row.require_2fa),
        _shared_cookie_source(row.shared_cookie),
    )


def _user_view(snap: Snapshot, row) -> UserView:
    parent_of = {gid: g.parent_id for gid, g in snap.groups.items() if g.tenant_id == row.tenant_id}
    closure = with_ancestors(snap.user_direct_groups.get(row.id, ()), parent_of)
    names = sorted(snap.groups[g].name for g in closure if g in snap.groups)
    return UserView(row.id, row.tenant_id, row.username, row.email, row.display_name, bool(row.active),
                    tuple(sorted(closure)), ",".join(names))


def _reindex_hosts(snap: Snapshot, hosts: set[str]) -> None:
    # One pass over the apps for any number of hosts: per-host passes made the full load quadratic.
    serving: dict[str, list[AppView]] = defaultdict(list)
    for a in snap.apps.values():
        if a.host in hosts and a.enabled and snap.domains.get(a.domain_id) is not None \
                and snap.domains[a.domain_id].verified:
            serving[a.host].append(a)
    for host in hosts:
        if serving.get(host):
            snap.apps_by_host[host] = tuple(sorted(serving[host], key=lambda a: len(a.path_prefix), reverse=True))
        else:
            snap.apps_by_host.pop(host, None)


def _load_keys(snap: Snapshot, conn: Connection, box: SecretBox | None) -> None:
    box = box if box is not None else secretbox.from_environment()
    snap.keys = {r.id: SigningKey(r.id, bytes.fromhex(box.open(r.secret)), r.retire_at, r.created_at)
                 for r in conn.execute(select(signing_keys))}


def load_full(conn: Connection, box: SecretBox | None = None) -> Snapshot:
    """Everything, read in one transaction. The change-log position is read
    first, so any change racing the load is applied again afterwards."""
    snap = Snapshot()
    snap.last_change_id = conn.execute(select(func.coalesce(func.max(change_log.c.id), 0))).scalar_one()
    snap.base_domain = conn.execute(select(installation.c.value).where(installation.c.key == "base_domain")).scalar()
    for row in conn.execute(select(tenants)):
        view = _tenant_view(row, snap.base_domain)
        snap.tenants[row.id] = view
        if view.host:
            snap.tenant_hosts[view.host] = view
    for row in conn.execute(select(domains)):
        view = _domain_view(row)
        snap.domains[row.id] = view
        if view.verified:
            snap.portal_hosts[view.portal_host] = view
    grants: dict[int, set[int]] = defaultdict(set)
    for row in conn.execute(select(app_grants.c.app_id, app_grants.c.group_id)):
        grants[row.app_id].add(row.group_id)
    for row in conn.execute(select(apps)):
        snap.apps[row.id] = _app_view(row, frozenset(grants.get(row.id, ())))
    _reindex_hosts(snap, {a.host for a in snap.apps.values()})
    for row in conn.execute(select(groups)):
        snap.groups[row.id] = GroupView(row.id, row.tenant_id, row.name, row.parent_id)
    # Memory per worker (BENCHMARKS.md, target 5): each row brings its own int objects, so a group id is
    # replaced by the one its GroupView holds, and people in the same groups share one tuple.
    same_id = {gid: gid for gid in snap.groups}
    direct: dict[int, set[int]] = defaultdict(set)
    for row in conn.execute(select(memberships.c.user_id, memberships.c.group_id)):
        gid = row.group_id
        direct[row.user_id].add(same_id.get(gid, gid))
    same_tuple: dict[tuple[int, ...], tuple[int, ...]] = {}
    snap.user_direct_groups = {}
    for uid, g in direct.items():
        t = tuple(sorted(g))
        snap.user_direct_groups[uid] = same_tuple.setdefault(t, t)
    del direct, same_tuple, same_id
    with_passkeys = {r.user_id for r in conn.execute(select(webauthn_credentials.c.user_id).distinct())}
    _load_users(snap, conn.execute(select(users)), with_passkeys)
    now = time.time()
    for row in conn.execute(
        select(sessions.c.id, sessions.c.expires_at).where(sessions.c.ended_at.is_not(None), sessions.c.expires_at > now)
    ):
        snap.ended_sessions[row.id] = row.expires_at
    _load_keys(snap, conn, box)
    snap.loaded = True
    return snap


def _load_users(snap: Snapshot, rows, with_passkeys: set[int] | None = None) -> None:
    """UserViews for `rows`; with `with_passkeys` (the ids of users who have a passkey)
    also who has a second factor and who is an administrator."""
    # Group closures per tenant are computed once, not once per user.
    parent_by_tenant: dict[int, dict[int, int | None]] = defaultdict(dict)
    for g in snap.groups.values():
        parent_by_tenant[g.tenant_id][g.id] = g.parent_id
    # A closure is kept as a sorted tuple, not a frozenset: a sixth of the memory (100,000 people in ten
    # groups each: about 60 MB less per worker), and the check only ever asks app.granted.isdisjoint(it).
    cache: dict[tuple[int, ...], tuple[tuple[int, ...], str]] = {}
    direct_groups = snap.user_direct_groups
    for row in rows:
        uid = row.id
        direct = direct_groups.pop(uid, None)
        if direct is None:
            direct = ()
        else:  # re-keyed by the UserView's own id object: one int per person, not two
            direct_groups[uid] = direct
        key = direct
        if key not in cache:
            closure = with_ancestors(direct, parent_by_tenant[row.tenant_id])
            cache[key] = (tuple(sorted(closure)),
                          ",".join(sorted(snap.groups[g].name for g in closure if g in snap.groups)))
        closure, header = cache[key]
        snap.users[uid] = UserView(uid, row.tenant_id, row.username, row.email, row.display_name,
                                   bool(row.active), closure, header)
        if with_passkeys is not None:
            _note_second_factor_facts(snap, row, row.id in with_passkeys)


def _note_second_factor_facts(snap: Snapshot, row, has_passkey: bool) -> None:
    """What access.owes_second_factor reads of one user: whether they have a second
    factor (services/rules/second_factor.py is_enrolled, or a passkey) and are an
    administrator. Called with the row its UserView was made from, the sets hold
    that view's own id object: a member costs only the set's slot."""
    uid = row.id
    if (row.totp_secret and row.totp_enabled_at) or has_passkey:
        snap.second_factor_enrolled.add(uid)
    else:
        snap.second_factor_enrolled.discard(uid)
    if row.is_admin:
        snap.admins.add(uid)
    else:
        snap.admins.discard(uid)


def apply_change(snap: Snapshot, conn: Connection, entity: str, entity_id: str, tenant_id: int | None,
                 box: SecretBox | None = None) -> None:
    """Bring the entries one change touched up to date, then count a new
    generation: answers the gate remembered are good for one generation only
    (gate/asgi.py, AnswerCache), so this change applies to them at once.
    An entity this version does not know (written by a newer one) only
    counts the generation."""
    try:
        handler = _HANDLERS.get(entity)
        if handler is not None:
            handler(snap, conn, entity_id, tenant_id, box)
    finally:
        snap.generation += 1


def _user_changed(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    uid = int(entity_id)
    snap.user_direct_groups[uid] = tuple(sorted(
        r.group_id for r in conn.execute(select(memberships.c.group_id).where(memberships.c.user_id == uid))
    ))
    row = conn.execute(select(users).where(users.c.id == uid)).first()
    if row is None:
        snap.users.pop(uid, None)
        snap.user_direct_groups.pop(uid, None)
        snap.second_factor_enrolled.discard(uid)
        snap.admins.discard(uid)
    else:
        snap.users[uid] = _user_view(snap, row)
        has_passkey = conn.execute(select(webauthn_credentials.c.id).where(
            webauthn_credentials.c.user_id == uid).limit(1)).first() is not None
        _note_second_factor_facts(snap, row, has_passkey)


def _session_changed(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    row = conn.execute(select(sessions.c.expires_at, sessions.c.ended_at).where(sessions.c.id == entity_id)).first()
    if row is not None and row.ended_at is not None:
        snap.ended_sessions[entity_id] = row.expires_at


def _app_changed(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    aid = int(entity_id)
    old = snap.apps.get(aid)
    row = conn.execute(select(apps).where(apps.c.id == aid)).first()
    if row is None:
        snap.apps.pop(aid, None)
    else:
        granted = frozenset(r.group_id for r in conn.execute(
            select(app_grants.c.group_id).where(app_grants.c.app_id == aid)))
        snap.apps[aid] = _app_view(row, granted)
    _reindex_hosts(snap, {a.host for a in (old, snap.apps.get(aid)) if a is not None})


def _group_changed(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    # A move or rename changes closures and names of everyone below: redo the tenant.
    for gid in [g for g, v in snap.groups.items() if v.tenant_id == tenant_id]:
        del snap.groups[gid]
    for row in conn.execute(select(groups).where(groups.c.tenant_id == tenant_id)):
        snap.groups[row.id] = GroupView(row.id, row.tenant_id, row.name, row.parent_id)
    tenant_user_rows = list(conn.execute(select(users).where(users.c.tenant_id == tenant_id)))
    tenant_user_ids = [r.id for r in tenant_user_rows]
    direct: dict[int, set[int]] = defaultdict(set)
    for r in conn.execute(select(memberships.c.user_id, memberships.c.group_id).where(memberships.c.tenant_id == tenant_id)):
        direct[r.user_id].add(r.group_id)
    for uid in tenant_user_ids:
        snap.user_direct_groups[uid] = tuple(sorted(direct.get(uid, ())))
    _load_users(snap, tenant_user_rows)


def _domain_changed(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    did = int(entity_id)
    old = snap.domains.get(did)
    row = conn.execute(select(domains).where(domains.c.id == did)).first()
    if old is not None and snap.portal_hosts.get(old.portal_host) is old:
        del snap.portal_hosts[old.portal_host]
    if row is None:
        snap.domains.pop(did, None)
    else:
        view = _domain_view(row)
        snap.domains[did] = view
        if view.verified:
            snap.portal_hosts[view.portal_host] = view
    _reindex_hosts(snap, {a.host for a in snap.apps.values() if a.domain_id == did})


def _tenant_changed(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    tid = int(entity_id)
    old_t = snap.tenants.get(tid)
    row = conn.execute(select(tenants).where(tenants.c.id == tid)).first()
    if old_t is not None:
        snap.tenant_hosts.pop(old_t.host, None)
    if row is None:
        snap.tenants.pop(tid, None)
    else:
        view = _tenant_view(row, snap.base_domain)
        snap.tenants[tid] = view
        if view.host:
            snap.tenant_hosts[view.host] = view


def _keys_changed(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    _load_keys(snap, conn, box)


def _installation_changed(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    snap.base_domain = conn.execute(
        select(installation.c.value).where(installation.c.key == "base_domain")).scalar()
    snap.tenant_hosts.clear()
    for row in conn.execute(select(tenants)):
        view = _tenant_view(row, snap.base_domain)
        snap.tenants[row.id] = view
        if view.host:
            snap.tenant_hosts[view.host] = view


def _nothing_held(snap: Snapshot, conn: Connection, entity_id: str, tenant_id: int | None, box) -> None:
    """The snapshot holds nothing of it: the new generation is the whole change."""


# One handler per entity of the change log (store/changes.py); a test keeps them in step.
_HANDLERS: dict[str, Callable[[Snapshot, Connection, str, int | None, SecretBox | None], None]] = {
    Entity.USER: _user_changed,
    Entity.SESSION: _session_changed,
    Entity.APP: _app_changed,
    Entity.GROUP: _group_changed,
    Entity.DOMAIN: _domain_changed,
    Entity.TENANT: _tenant_changed,
    Entity.KEY: _keys_changed,
    Entity.INSTALLATION: _installation_changed,
    Entity.PROVIDER: _nothing_held,
}


def prune_ended_sessions(snap: Snapshot, now: float) -> None:
    """Ended sessions past their absolute limit can no longer back any cookie."""
    gone = [s for s, exp in snap.ended_sessions.items() if exp <= now]
    for sid in gone:
        snap.ended_sessions.pop(sid, None)
    if gone:
        snap.generation += 1
