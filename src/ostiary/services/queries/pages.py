"""What the admin pages and the API read: pages of users, groups, apps,
domains and sessions (search and paging in SQL), and the details of one."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import Row, func, select

from ostiary.access import with_ancestors
from ostiary.identity.method import amr_values, describe
from ostiary.services.base.text_rules import nfc
from ostiary.services.base.errors import N_, NotFound
from ostiary.services.base.listing import Page, clamp, matches, ordering
from ostiary.services.rules import tenants as tenants_service
from ostiary.store import Store, TenantScope
from ostiary.store.tables import app_grants, apps, domains, groups, memberships, sessions, tenants, users


def users_page(store: Store, tenant_id: int, search: str = "", limit: int | None = None,
               offset: int | None = None, sort: str = "") -> Page:
    limit, offset = clamp(limit, offset)
    where = matches(search, users.c.email, users.c.username, users.c.display_name)
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        order = ordering(sort, {"email": users.c.email, "username": users.c.username, "name": users.c.display_name,
                                "state": users.c.active, "created": users.c.created_at}, [users.c.email])
        return Page(scope.rows(users, *where, order_by=order, limit=limit, offset=offset),
                    scope.count(users, *where), limit, offset)


def user_by_id(store: Store, tenant_id: int, user_id: int) -> Row:
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(users, users.c.id == user_id)
    if row is None:
        raise NotFound("user", N_("no user with id %(user_id)s in this tenant"), user_id=user_id)
    return row


def user_groups(store: Store, tenant_id: int, user_id: int) -> list[Row]:
    """The groups the user is a direct member of, by name."""
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        ids = [m.group_id for m in scope.rows(memberships, memberships.c.user_id == user_id)]
        return scope.rows(groups, groups.c.id.in_(ids), order_by=groups.c.name) if ids else []


@dataclass(frozen=True)
class GroupNode:
    id: int
    name: str
    parent_id: int | None
    parent: str | None
    depth: int
    path: str  # "staff / ops"


def group_tree(store: Store, tenant_id: int) -> list[GroupNode]:
    """Every group, depth first, children by name: the order the tree is drawn in."""
    with store.read() as conn:
        rows = list(conn.execute(select(groups.c.id, groups.c.name, groups.c.parent_id)
                                 .where(groups.c.tenant_id == tenant_id).order_by(groups.c.name)))
    names = {r.id: r.name for r in rows}
    children: dict[int | None, list] = {}
    for r in rows:
        children.setdefault(r.parent_id if r.parent_id in names else None, []).append(r)
    out: list[GroupNode] = []
    stack = [(r, 0, r.name) for r in reversed(children.get(None, []))]
    while stack:
        r, depth, path = stack.pop()
        out.append(GroupNode(r.id, r.name, r.parent_id, names.get(r.parent_id), depth, path))
        stack += [(c, depth + 1, f"{path} / {c.name}") for c in reversed(children.get(r.id, []))]
    return out


def groups_page(store: Store, tenant_id: int, search: str = "", limit: int | None = None,
                offset: int | None = None, sort: str = "") -> Page:
    """The tree, depth first; with a search, the matching groups (each with its path); with `sort`
    ("name", "parent" or "path", "-" first for descending), in that order instead (top-level groups,
    which have no parent, last)."""
    limit, offset = clamp(limit, offset)
    nodes = group_tree(store, tenant_id)
    if search.strip():
        needle = search.strip().lower()
        nodes = [n for n in nodes if needle in n.name.lower()]
    key = {"name": lambda n: n.name.casefold(), "parent": lambda n: (n.parent or "").casefold(),
           "path": lambda n: n.path.casefold()}.get(sort.removeprefix("-"))
    if key is not None:
        placed = [n for n in nodes if key(n)]
        nodes = sorted(placed, key=key, reverse=sort.startswith("-")) + [n for n in nodes if not key(n)]
    return Page(nodes[offset:offset + limit], len(nodes), limit, offset)


@dataclass(frozen=True)
class GroupDetail:
    group: Row
    parent: str | None
    path: str
    children: list[str]
    direct_grants: list[str]  # apps granted to this group
    inherited_grants: list[tuple[str, str]]  # (app, ancestor group) reaching members through an ancestor


def group_detail(store: Store, tenant_id: int, key: int | str) -> GroupDetail:
    """By id (an int) or by name."""
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        where = groups.c.id == key if isinstance(key, int) else groups.c.name == nfc(key).strip()
        group = scope.one(groups, where)
        if group is None:
            raise NotFound("group", N_('no group "%(key)s" in this tenant'), key=key)
        all_groups = {r.id: r for r in scope.rows(groups)}
        parent_of = {gid: r.parent_id for gid, r in all_groups.items()}
        ancestors = with_ancestors([group.id], parent_of) - {group.id}
        grants = scope.rows(app_grants, app_grants.c.group_id.in_([group.id, *ancestors]))
        app_names = {r.id: r.name for r in scope.rows(apps, apps.c.id.in_({g.app_id for g in grants}))} if grants else {}
    path, node = [], group.id
    while node is not None and node in all_groups and len(path) < 1000:
        path.append(all_groups[node].name)
        node = all_groups[node].parent_id
    return GroupDetail(
        group=group,
        parent=all_groups[group.parent_id].name if group.parent_id in all_groups else None,
        path=" / ".join(reversed(path)),
        children=sorted(r.name for r in all_groups.values() if r.parent_id == group.id),
        direct_grants=sorted(app_names[g.app_id] for g in grants if g.group_id == group.id),
        inherited_grants=sorted((app_names[g.app_id], all_groups[g.group_id].name) for g in grants
                                if g.group_id != group.id),
    )


def members_page(store: Store, tenant_id: int, group_id: int, search: str = "", limit: int | None = None,
                 offset: int | None = None, sort: str = "") -> Page:
    """Direct members of a group, by email or in the order `sort` asks for (as `users_page`)."""
    limit, offset = clamp(limit, offset)
    where = [users.c.tenant_id == tenant_id, memberships.c.tenant_id == tenant_id, memberships.c.group_id == group_id,
             *matches(search, users.c.email, users.c.username, users.c.display_name)]
    joined = users.join(memberships, memberships.c.user_id == users.c.id)
    with store.read() as conn:
        total = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
        order = ordering(sort, {"email": users.c.email, "username": users.c.username, "name": users.c.display_name,
                                "state": users.c.active}, [users.c.email])
        rows = list(conn.execute(select(users).select_from(joined).where(*where).order_by(*order)
                                 .limit(limit).offset(offset)))
    return Page(rows, int(total), limit, offset)


@dataclass(frozen=True)
class AppSummary:
    app: Row
    domain: str
    public_paths: list[str]
    header_keys: list[str]
    grants: list[str]


def apps_page(store: Store, tenant_id: int, search: str = "", limit: int | None = None,
              offset: int | None = None, sort: str = "") -> Page:
    limit, offset = clamp(limit, offset)
    where = matches(search, apps.c.name, apps.c.url)
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        total = scope.count(apps, *where)
        order = ordering(sort, {"name": apps.c.name, "url": apps.c.url, "state": apps.c.enabled}, [apps.c.name])
        rows = scope.rows(apps, *where, order_by=order, limit=limit, offset=offset)
        items = _summaries(scope, rows)
    return Page(items, total, limit, offset)


def app_summary(store: Store, tenant_id: int, key: int | str) -> AppSummary:
    """By id (an int) or by name."""
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        row = scope.one(apps, apps.c.id == key if isinstance(key, int) else apps.c.name == nfc(key).strip())
        if row is None:
            raise NotFound("app", N_('no proxy app "%(key)s" in this tenant'), key=key)
        return _summaries(scope, [row])[0]


def _summaries(scope: TenantScope, rows: list[Row]) -> list[AppSummary]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    grants = scope.rows(app_grants, app_grants.c.app_id.in_(ids))
    group_names = {g.id: g.name for g in scope.rows(groups, groups.c.id.in_({g.group_id for g in grants}))} if grants else {}
    domain_names = {d.id: d.name for d in scope.rows(domains, domains.c.id.in_({r.domain_id for r in rows}))}
    by_app: dict[int, list[str]] = {}
    for g in grants:
        by_app.setdefault(g.app_id, []).append(group_names.get(g.group_id, "?"))
    return [AppSummary(r, domain_names.get(r.domain_id, "?"), json.loads(r.public_paths or "[]"),
                       [k for k in r.identity_headers.split(",") if k], sorted(by_app.get(r.id, [])))
            for r in rows]


def domain_by_id(store: Store, tenant_id: int, domain_id: int) -> Row:
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(domains, domains.c.id == domain_id)
    if row is None:
        raise NotFound("domain", N_("no domain with id %(domain_id)s in this tenant"), domain_id=domain_id)
    return row


def domains_page(store: Store, tenant_id: int, search: str = "", limit: int | None = None,
                 offset: int | None = None, sort: str = "") -> Page:
    limit, offset = clamp(limit, offset)
    where = matches(search, domains.c.name, domains.c.portal_host)
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        order = ordering(sort, {"name": domains.c.name, "portal": domains.c.portal_host, "status": domains.c.status,
                                "checked": domains.c.last_checked_at}, [domains.c.name])
        return Page(scope.rows(domains, *where, order_by=order, limit=limit, offset=offset),
                    scope.count(domains, *where), limit, offset)


@dataclass(frozen=True)
class SessionEntry:
    id: str
    user_id: int
    email: str
    username: str
    created_at: float
    last_seen_at: float
    expires_at: float
    client_addr: str
    user_agent: str
    second_factor: bool
    methods: tuple[str, ...] = ()  # RFC 8176 amr values, in the order used
    signed_in_with: str = ""  # the same for people, naming the provider or directory


def sessions_page(store: Store, tenant_id: int, search: str = "", user_id: int | None = None,
                  limit: int | None = None, offset: int | None = None, sort: str = "") -> Page:
    """Live sessions, newest first; search matches the user's email or
    username, or the client address."""
    limit, offset = clamp(limit, offset)
    joined = sessions.join(users, users.c.id == sessions.c.user_id)
    where = [sessions.c.tenant_id == tenant_id, users.c.tenant_id == tenant_id, sessions.c.ended_at.is_(None),
             sessions.c.expires_at > time.time(),
             *matches(search, users.c.email, users.c.username, sessions.c.client_addr)]
    if user_id is not None:
        where.append(sessions.c.user_id == user_id)
    cols = [sessions.c.id, sessions.c.user_id, users.c.email, users.c.username, sessions.c.created_at,
            sessions.c.last_seen_at, sessions.c.expires_at, sessions.c.client_addr, sessions.c.user_agent,
            sessions.c.second_factor, sessions.c.methods]
    with store.read() as conn:
        total = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
        rows = conn.execute(select(*cols).select_from(joined).where(*where)
                            .order_by(*ordering(sort, {"user": users.c.email, "from": sessions.c.client_addr,
                                                       "signed-in": sessions.c.created_at,
                                                       "seen": sessions.c.last_seen_at},
                                                [sessions.c.created_at.desc(), sessions.c.id]))
                            .limit(limit).offset(offset))
        items = [SessionEntry(*r[:9], bool(r[9]), tuple(amr_values(r[10])), describe(r[10])) for r in rows]
    return Page(items, int(total), limit, offset)


@dataclass(frozen=True)
class TenantSummary:
    id: int
    slug: str
    name: str
    host: str | None  # None until `ostiary init` has set the base domain
    session_idle_seconds: int
    session_absolute_seconds: int
    password_sign_in: bool
    created_at: float


def tenant_summary(store: Store, tenant_id: int) -> TenantSummary:
    with store.read() as conn:
        row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
    if row is None:
        raise NotFound("tenant", N_("no tenant with id %(tenant_id)s"), tenant_id=tenant_id)
    base = tenants_service.get_base_domain(store)
    return TenantSummary(row.id, row.slug, row.name, tenants_service.tenant_host(base, row.slug) if base else None,
                         row.session_idle_seconds, row.session_absolute_seconds, bool(row.password_sign_in),
                         row.created_at)


# The member picker suggests at most this many emails (a datalist, not a list to scroll).
PICKER_LIMIT = 500


@dataclass(frozen=True)
class Pickers:
    """Names the admin pages suggest in their pickers and link to."""
    group_ids: dict[str, int]  # group name -> id, by name
    app_ids: dict[str, int]  # app name -> id
    emails: list[str]  # active users' emails, first PICKER_LIMIT by email


def pickers(store: Store, tenant_id: int, with_emails: bool = False) -> Pickers:
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        group_ids = {r.name: r.id for r in conn.execute(select(groups.c.id, groups.c.name)
                                                         .where(groups.c.tenant_id == tenant_id)
                                                         .order_by(groups.c.name))}
        app_ids = {r.name: r.id for r in conn.execute(select(apps.c.id, apps.c.name).where(apps.c.tenant_id == tenant_id))}
        emails = [r.email for r in scope.rows(users, users.c.active.is_(True), order_by=users.c.email,
                                              limit=PICKER_LIMIT)] if with_emails else []
    return Pickers(group_ids, app_ids, emails)
