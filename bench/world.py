"""The data the benchmarks run against: a small installation (10 users, 1
app) built through the service layer, and the same plus a large bulk load
(100,000 users, 10,000 apps, 1,000 domains, 20,000 groups) inserted with
plain SQL, the way a long-lived installation would have accumulated it."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import insert, select

from ostiary.services.rules import apps, domains, groups, keys, sessions, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.snapshot.build import load_full
from ostiary.store import Store, open_store
from ostiary.store.tables import (
    app_grants, apps as apps_t, domains as domains_t, groups as groups_t, memberships, sessions as sessions_t, tenants as tenants_t,
    users as users_t,
)
from ostiary.tokens import sign

PASSWORD = "correct horse battery"
BASE_DOMAIN = "id.bench.test"
DOMAIN = "bench.test"
PORTAL = "auth.bench.test"
APP_HOST = "app.bench.test"
USER_EMAIL = "alice@acme.test"

# The large case, spread over ten tenants besides the benchmark's own.
BULK_TENANTS = 10
USERS_PER_TENANT = 10_000
GROUPS_PER_TENANT = 2_000
DOMAINS_PER_TENANT = 100
APPS_PER_DOMAIN = 10
GROUPS_PER_USER = 3
SESSIONS_PER_TENANT = 2_000  # a quarter of them ended, as the snapshot keeps ended sessions


@dataclass(frozen=True)
class Small:
    url: str
    tenant_id: int
    app_url: str
    user_id: int


def build_small(url: str, app_port: int) -> Small:
    """10 users, 1 app, granted to a group the user is in."""
    store = open_store(url)
    store.migrate()
    tenants.init_installation(store, BASE_DOMAIN, "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    domains.add_domain(store, tid, CLI_ACTOR, DOMAIN, PORTAL)
    domains.skip_verification(store, tid, CLI_ACTOR, DOMAIN, "benchmark on loopback, no DNS")
    groups.add_group(store, tid, CLI_ACTOR, "staff")
    groups.add_group(store, tid, CLI_ACTOR, "ops", parent="staff")
    alice = users.add_user(store, tid, CLI_ACTOR, email=USER_EMAIL, display_name="Alice Ørsted", password=PASSWORD)
    for i in range(8):
        users.add_user(store, tid, CLI_ACTOR, email=f"user{i}@acme.test")
    groups.add_member(store, tid, CLI_ACTOR, "ops", USER_EMAIL)
    app_url = f"https://{APP_HOST}:{app_port}"
    apps.add_app(store, tid, CLI_ACTOR, name="app", url=app_url, groups_granted=["staff"])
    keys.ensure_signing_key(store)
    store.dispose()
    return Small(url, tid, app_url, alice.id)


def mint_cookie(store: Store, world: Small, ttl: float = 3 * 3600, user_id: int | None = None) -> tuple[str, str]:
    """A fresh central session for the user (or another user of the tenant) and a
    forward-auth cookie naming it: (session id, cookie)."""
    with store.read() as conn:
        snap = load_full(conn)
    domain = snap.portal_hosts[PORTAL]
    uid = world.user_id if user_id is None else user_id
    session = sessions.create_session(store, world.tenant_id, uid)
    payload = {"tn": world.tenant_id, "d": domain.id, "s": session.id, "u": uid, "mf": False,
               "exp": time.time() + ttl}
    return session.id, sign("fa", payload, snap.signing_key)


def check_headers(world: Small, cookie: str, portal_port: int | None = None) -> dict[str, str]:
    """What nginx's snippet sends /check for a browser's GET of the app's front page."""
    port = world.app_url.rsplit(":", 1)[1]
    return {
        "Host": f"{PORTAL}:{portal_port or port}",
        "X-Forwarded-Host": f"{APP_HOST}:{port}",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Uri": "/",
        "X-Forwarded-Method": "GET",
        "X-Original-URL": f"https://{APP_HOST}:{port}/",
        "Accept": "text/html,application/xhtml+xml",
        "Cookie": f"theme=dark; _ostiary_fa={cookie}",
    }


def refused_headers(world: Small, store: Store, headers: dict[str, str]) -> dict[str, dict[str, str]]:
    """The refused paths' requests beside the allowed one: no cookie (not signed in), the
    cookie of user0, who is in no group (forbidden), and a host Ostiary does not know (no app)."""
    from ostiary.services.rules import users as users_service

    outsider = users_service.find_user(store, world.tenant_id, "user0@acme.test")
    _, outsider_cookie = mint_cookie(store, world, user_id=outsider.id)
    unknown = "unknown." + DOMAIN
    return {
        "not_signed_in": {k: v for k, v in headers.items() if k != "Cookie"},
        "forbidden": {**headers, "Cookie": f"theme=dark; _ostiary_fa={outsider_cookie}"},
        "no_app": {**headers, "X-Forwarded-Host": headers["X-Forwarded-Host"].replace(APP_HOST, unknown),
                   "X-Original-URL": headers["X-Original-URL"].replace(APP_HOST, unknown)},
    }


def add_bulk(url: str) -> dict[str, int]:
    """The large case on top of a small installation; returns the totals."""
    store = open_store(url)
    now = time.time()
    with store.write() as conn:
        tenant_row = conn.execute(select(tenants_t)).first()
        for t in range(BULK_TENANTS):
            tid = conn.execute(insert(tenants_t).values(
                slug=f"bulk{t}", name=f"Bulk {t}", session_idle_seconds=tenant_row.session_idle_seconds,
                session_absolute_seconds=tenant_row.session_absolute_seconds, created_at=now,
            )).inserted_primary_key[0]
            _bulk_tenant(conn, tid, t, now)
    counts = {}
    with store.read() as conn:
        for name, table in (("users", users_t), ("groups", groups_t), ("domains", domains_t), ("apps", apps_t),
                            ("memberships", memberships), ("sessions", sessions_t)):
            counts[name] = len(conn.execute(select(table.c[list(table.c.keys())[0]])).all())
    store.dispose()
    return counts


def _bulk_tenant(conn, tid: int, t: int, now: float) -> None:
    # Groups form a tree (each group's parent is group i // 10), so closures have depth.
    g0 = _next_id(conn, groups_t)
    gids = list(range(g0, g0 + GROUPS_PER_TENANT))
    conn.execute(insert(groups_t), [
        {"id": gid, "tenant_id": tid, "name": f"group{i:05d}", "parent_id": gids[i // 10] if i >= 10 else None,
         "created_at": now} for i, gid in enumerate(gids)
    ])
    u0 = _next_id(conn, users_t)
    uids = list(range(u0, u0 + USERS_PER_TENANT))
    conn.execute(insert(users_t), [
        {"id": uid, "tenant_id": tid, "email": f"user{i}@bulk{t}.test", "username": f"user{i}",
         "display_name": f"User {i} of bulk {t}", "password_hash": None, "is_admin": False, "active": True,
         "created_at": now, "updated_at": now} for i, uid in enumerate(uids)
    ])
    rows = []
    for i, uid in enumerate(uids):
        for g in {i % GROUPS_PER_TENANT, (i * 7 + 3) % GROUPS_PER_TENANT, (i * 13 + 5) % GROUPS_PER_TENANT}:
            rows.append({"tenant_id": tid, "group_id": gids[g], "user_id": uid})
    conn.execute(insert(memberships), rows)
    d0 = _next_id(conn, domains_t)
    conn.execute(insert(domains_t), [
        {"id": d0 + k, "tenant_id": tid, "name": f"d{k}.bulk{t}.test", "portal_host": f"auth.d{k}.bulk{t}.test",
         "status": "verified", "verification_token": secrets.token_urlsafe(24), "status_reason": "",
         "verified_at": now, "created_at": now} for k in range(DOMAINS_PER_TENANT)
    ])
    a0 = _next_id(conn, apps_t)
    app_rows, grant_rows = [], []
    for k in range(DOMAINS_PER_TENANT):
        for m in range(APPS_PER_DOMAIN):
            aid = a0 + k * APPS_PER_DOMAIN + m
            host = f"a{m}.d{k}.bulk{t}.test"
            app_rows.append({
                "id": aid, "tenant_id": tid, "domain_id": d0 + k, "name": f"app{k}-{m}", "url": f"https://{host}",
                "host": host, "port": None, "path_prefix": "/", "public_paths": json.dumps(["/static/*"]),
                "identity_headers": "user,email,groups,display_name", "all_users": False, "enabled": True,
                "require_2fa": False, "created_at": now, "updated_at": now,
            })
            for g in {aid % GROUPS_PER_TENANT, (aid * 3) % GROUPS_PER_TENANT}:
                grant_rows.append({"tenant_id": tid, "app_id": aid, "group_id": gids[g]})
    conn.execute(insert(apps_t), app_rows)
    conn.execute(insert(app_grants), grant_rows)
    conn.execute(insert(sessions_t), [
        {"id": secrets.token_hex(16), "tenant_id": tid, "user_id": uids[i], "token_hash": secrets.token_hex(32),
         "created_at": now, "last_seen_at": now, "expires_at": now + 86400,
         "ended_at": now if i % 4 == 0 else None, "ended_reason": "signed out" if i % 4 == 0 else None,
         "client_addr": "", "user_agent": "", "second_factor": False} for i in range(SESSIONS_PER_TENANT)
    ])


def _next_id(conn, table) -> int:
    return (conn.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar() or 0) + 1
