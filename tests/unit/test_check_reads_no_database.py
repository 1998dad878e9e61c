"""Once the snapshot is loaded, /forward-auth/check touches no database:
no connection checked out of the pool, no statement executed."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import event

from ostiary.app import create_app
from ostiary.config import Settings
from ostiary.services.rules import apps, domains, groups, sessions, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.tokens import sign


def _populate(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery", CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    domains.add_domain(store, tid, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
    domains.skip_verification(store, tid, CLI_ACTOR, "acme-corp.test", "unit test without DNS")
    groups.add_group(store, tid, CLI_ACTOR, "staff")
    alice = users.add_user(store, tid, CLI_ACTOR, email="alice@acme.test")
    users.add_user(store, tid, CLI_ACTOR, email="bob@acme.test")
    groups.add_member(store, tid, CLI_ACTOR, "staff", "alice@acme.test")
    apps.add_app(store, tid, CLI_ACTOR, name="grafana", url="https://grafana.acme-corp.test",
                 groups_granted=["staff"], public_paths=["/static/*"])
    apps.add_app(store, tid, CLI_ACTOR, name="wiki", url="https://wiki.acme-corp.test", groups_granted=[])
    from ostiary.services.rules import keys
    keys.ensure_signing_key(store)
    return tid, alice, sessions.create_session(store, tid, alice.id)


def test_check_makes_no_database_access_once_the_snapshot_is_loaded(store, db_url, tmp_path):
    tid, alice, session = _populate(store)
    app = create_app(Settings(database_url=db_url, data_dir=tmp_path))
    app.holder.load()  # the follower thread is not started: nothing else touches the database
    snap = app.holder.snapshot
    domain = snap.portal_hosts["auth.acme-corp.test"]
    cookie = sign("fa", {"tn": tid, "d": domain.id, "s": session.id, "u": alice.id, "mf": False,
                         "exp": time.time() + 600}, snap.signing_key)
    touched = []
    event.listen(app.store.engine, "before_cursor_execute", lambda *a, **k: touched.append("execute"))
    event.listen(app.store.engine.pool, "checkout", lambda *a, **k: touched.append("checkout"))
    event.listen(app.store.engine, "connect", lambda *a, **k: touched.append("connect"))

    base = {"host": "auth.acme-corp.test", "x-forwarded-proto": "https", "x-forwarded-method": "GET",
            "accept": "text/html"}
    cases = [
        ({"x-forwarded-host": "grafana.acme-corp.test", "x-forwarded-uri": "/", "cookie": f"_ostiary_fa={cookie}"}, 200),
        ({"x-forwarded-host": "grafana.acme-corp.test", "x-forwarded-uri": "/static/a.js"}, 200),
        ({"x-forwarded-host": "grafana.acme-corp.test", "x-forwarded-uri": "/"}, 302),
        ({"x-forwarded-host": "wiki.acme-corp.test", "x-forwarded-uri": "/", "cookie": f"_ostiary_fa={cookie}"}, 403),
        ({"x-forwarded-host": "unknown.acme-corp.test", "x-forwarded-uri": "/"}, 403),
        ({"x-forwarded-host": "grafana.acme-corp.test", "x-forwarded-uri": "/", "cookie": "_ostiary_fa=forged"}, 302),
    ]

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth.acme-corp.test") as client:
            for _ in range(50):
                for headers, expected in cases:
                    r = await client.get("/forward-auth/check", headers={**base, **headers})
                    assert r.status_code == expected, (headers, r.status_code)
            assert touched == [], "300 checks must not touch the database"
            # Control: a portal endpoint that reads the database is seen by the same counters.
            await client.get("/readyz")
            assert "execute" in touched

    asyncio.run(run())
    app.store.dispose()
