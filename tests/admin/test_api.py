"""The JSON API under /api/v1 against a running Ostiary, on SQLite and
PostgreSQL: authentication, scopes, validation that names the field,
pagination, every endpoint, and the audit trail it leaves."""

from __future__ import annotations

import time

import pytest

from ostiary.services.rules import api_tokens, domains, sessions, users
from ostiary.services.base.actor import CLI_ACTOR, Actor
from tests.admin.conftest import PASSWORD

READS = ["/me", "/domains", "/domains/acme-corp.test", "/apps", "/apps/grafana", "/apps/grafana/snippets/caddy",
         "/users", "/users/alice", "/groups", "/groups/staff", "/groups/staff/members", "/sessions", "/audit", "/keys"]
WRITES = [("POST", "/domains", {"name": "x.test", "portal_host": "x.test"}), ("POST", "/domains/acme-corp.test/verify", None),
          ("DELETE", "/domains/acme-corp.test", None), ("POST", "/apps", {"name": "x", "url": "https://x.acme-corp.test"}),
          ("PATCH", "/apps/grafana", {"enabled": False}), ("DELETE", "/apps/grafana", None),
          ("PUT", "/apps/grafana/grants/sales", None), ("DELETE", "/apps/grafana/grants/staff", None),
          ("POST", "/users", {"email": "x@acme.test"}), ("PATCH", "/users/alice", {"active": False}),
          ("DELETE", "/users/alice/sessions", None), ("POST", "/groups", {"name": "x"}),
          ("PATCH", "/groups/ops", {"parent": None}), ("DELETE", "/groups/sales", None),
          ("PUT", "/groups/sales/members/alice", None), ("DELETE", "/groups/sales/members/bob", None),
          ("DELETE", "/sessions/0123456789abcdef0123456789abcdef", None), ("POST", "/keys/rotate", None)]


def fields(response) -> list[str]:
    return [p["field"] for p in response.json()["problems"]]


def test_openapi_describes_every_endpoint_without_a_token(api_world):
    with api_world.api() as api:
        r = api.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert {"/domains", "/domains/{name}/verify", "/apps/{name}/grants/{group}", "/apps/{name}/snippets/{proxy}",
            "/users/{login}/sessions", "/groups/{name}/members/{login}", "/sessions/{session_id}", "/audit",
            "/keys/rotate"} <= set(spec["paths"])
    assert spec["paths"]["/users"]["post"]["responses"]["422"]


@pytest.mark.parametrize("path", READS)
def test_every_read_without_a_token_is_401_json_with_a_bearer_challenge(api_world, path):
    with api_world.api() as api:
        r = api.get(path)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_bad_revoked_and_other_tenants_tokens_are_401(api_world):
    revoked = api_tokens.create_token(api_world.store, api_world.tenant_id, CLI_ACTOR, "short-lived", "write")
    api_tokens.revoke_token(api_world.store, api_world.tenant_id, CLI_ACTOR, revoked.row.id)
    for token in ("ost_not-a-token", api_world.write_token + "x", revoked.token, api_world.globex_token):
        with api_world.api(token) as api:
            r = api.get("/users")
        assert r.status_code == 401, token
        assert "unknown, revoked or expired" in r.json()["message"]
    with api_world.api() as api:
        assert api.get("/users", headers={"authorization": "Basic YWRtaW46cGFzcw=="}).status_code == 401


def test_a_tenants_token_sees_only_its_tenant(api_world):
    with api_world.api(api_world.globex_token) as api:
        r = api.get(f"https://globex.id.example.test:{api_world.port}/api/v1/users")
    assert r.status_code == 200
    assert [u["email"] for u in r.json()["items"]] == ["zed@globex.test"]


@pytest.mark.parametrize("path", READS)
def test_a_read_token_reads_every_list_and_detail(api_world, path):
    with api_world.api(api_world.read_token) as api:
        r = api.get(path)
    assert r.status_code == 200, r.text
    body = r.json()
    if isinstance(body, dict) and "items" in body:
        assert {"total", "limit", "offset"} <= set(body)


@pytest.mark.parametrize("method,path,body", WRITES)
def test_a_read_token_is_refused_every_write_with_403(api_world, method, path, body):
    with api_world.api(api_world.read_token) as api:
        r = api.request(method, path, json=body)
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden" and '"write"' in r.json()["message"]


def test_me_names_the_token_and_its_scopes(api_world):
    with api_world.api(api_world.write_token) as api:
        assert api.get("/me").json() == {"id": api.get("/me").json()["id"], "name": "writer", "scopes": ["read", "write"]}


def test_domains_register_verify_against_real_dns_and_delete(api_world):
    w = api_world
    with w.api(w.write_token) as api:
        bad = api.post("/domains", json={"name": "homelab.test", "portal_host": "login.other.test"})
        assert bad.status_code == 422 and bad.json()["error"] == "invalid_input"
        assert "portal_host" in fields(bad)
        missing = api.post("/domains", json={"name": "homelab.test"})
        assert missing.status_code == 422 and fields(missing) == ["portal_host"]
        r = api.post("/domains", json={"name": "homelab.test", "portal_host": "login.homelab.test"})
        assert r.status_code == 201, r.text
        d = r.json()
        assert d["status"] == "pending" and d["txt_name"] == "_ostiary-challenge.homelab.test"
        assert d["txt_value"].startswith("ostiary-domain-verification=")
        assert api.post("/domains", json={"name": "homelab.test", "portal_host": "login.homelab.test"}).status_code == 409
        failed = api.post("/domains/homelab.test/verify").json()
        assert failed["status"] == "failed" and failed["status_reason"]
        w.dns.restart(txt={**w.challenge("acme-corp.test"), **w.challenge("homelab.test")})
        verified = api.post("/domains/homelab.test/verify").json()
        assert verified["status"] == "verified", verified
        assert api.get("/domains", params={"q": "homelab"}).json()["total"] == 1
        assert api.delete("/domains/homelab.test").status_code == 204
        assert api.get("/domains/homelab.test").status_code == 404
        busy = api.delete("/domains/acme-corp.test")
        assert busy.status_code == 409 and fields(busy) == ["domain"]


def test_apps_create_edit_grant_snippets_and_delete(api_world):
    w = api_world
    url = f"https://status.acme-corp.test:{w.port}"
    with w.api(w.write_token) as api:
        bad = api.post("/apps", json={"name": "status", "url": "http://status.acme-corp.test"})
        assert bad.status_code == 422 and fields(bad) == ["url"]
        bad = api.post("/apps", json={"name": "status", "url": url, "headers": ["user", "shoe-size"]})
        assert bad.status_code == 422 and fields(bad) == ["headers.1"]
        bad = api.post("/apps", json={"name": "status", "url": url, "groups": ["nobody-here"]})
        assert bad.status_code == 404 and fields(bad) == ["group"]
        assert api.get("/apps/status").status_code == 404  # nothing half-written
        r = api.post("/apps", json={"name": "status", "url": url, "public_paths": ["/health"], "groups": ["ops"],
                                    "headers": ["user", "email"]})
        assert r.status_code == 201, r.text
        assert r.json()["groups"] == ["ops"] and r.json()["headers"] == ["user", "email"]
        assert api.post("/apps", json={"name": "status", "url": url}).status_code == 409
        patched = api.patch("/apps/status", json={"url": url + "/board", "public_paths": ["/static/*"], "enabled": False})
        assert patched.status_code == 200, patched.text
        assert patched.json()["url"] == url + "/board" and patched.json()["enabled"] is False
        assert api.patch("/apps/status", json={"public_paths": ["../x"]}).status_code == 422
        assert api.put("/apps/status/grants/sales").json()["groups"] == ["ops", "sales"]
        assert api.delete("/apps/status/grants/ops").json()["groups"] == ["sales"]
        assert api.delete("/apps/status/grants/ops").status_code == 404
        for proxy in ("caddy", "nginx", "traefik", "traefik-labels"):
            s = api.get(f"/apps/status/snippets/{proxy}")
            assert s.status_code == 200 and "auth.acme-corp.test" in s.json()["text"], proxy
        unknown = api.get("/apps/status/snippets/apache")
        assert unknown.status_code == 422 and fields(unknown) == ["proxy"]
        placed = api.get("/apps/status/snippets/caddy", params={"upstream": "http://10.9.8.7:4000"})
        assert "reverse_proxy http://10.9.8.7:4000" in placed.json()["text"]
        bad = api.get("/apps/status/snippets/caddy", params={"upstream": "not a url"})
        assert bad.status_code == 422 and fields(bad) == ["upstream"]
        assert api.delete("/apps/status").status_code == 204


def test_users_create_disable_password_and_sign_out_everywhere(api_world):
    w = api_world
    with w.api(w.write_token) as api:
        bad = api.post("/users", json={"email": "not-an-email", "password": "x"})
        assert bad.status_code == 422 and set(fields(bad)) == {"email", "password"}
        extra = api.post("/users", json={"email": "dan@acme.test", "role": "boss"})
        assert extra.status_code == 422 and fields(extra) == ["role"]
        r = api.post("/users", json={"email": "dan@acme.test", "display_name": "Dan Ünal", "password": PASSWORD})
        assert r.status_code == 201 and r.json()["username"] == "dan"
        assert api.post("/users", json={"email": "dan@acme.test"}).status_code == 409
        dan = users.get_user(w.store, w.tenant_id, "dan")
        sessions.create_session(w.store, w.tenant_id, dan.id, client_addr="10.0.0.9")
        assert api.get("/sessions", params={"user": "dan"}).json()["total"] == 1
        assert api.patch("/users/dan", json={"password": "short"}).status_code == 422
        assert api.patch("/users/dan", json={"active": False}).json()["active"] is False
        assert api.get("/sessions", params={"user": "dan"}).json()["total"] == 0
        assert api.patch("/users/dan", json={"active": True, "is_admin": True}).json()["is_admin"] is True
        sessions.create_session(w.store, w.tenant_id, dan.id)
        sessions.create_session(w.store, w.tenant_id, dan.id)
        assert api.delete("/users/dan/sessions").json() == {"ended": 2}
        assert api.get("/users/dan@acme.test").json()["groups"] == []
        assert api.get("/users/nobody").status_code == 404


def test_groups_tree_members_grants_and_moves(api_world):
    w = api_world
    with w.api(w.write_token) as api:
        bad = api.post("/groups", json={"name": "a,b"})
        assert bad.status_code == 422 and fields(bad) == ["name"]
        assert api.post("/groups", json={"name": "oncall", "parent": "ops"}).status_code == 201
        detail = api.get("/groups/oncall").json()
        assert detail["path"] == "staff / ops / oncall" and detail["inherited_apps"] == ["grafana"]
        cycle = api.patch("/groups/staff", json={"parent": "oncall"})
        assert cycle.status_code == 422 and fields(cycle) == ["parent"]
        assert api.patch("/groups/oncall", json={}).status_code == 422
        tree = [g["name"] for g in api.get("/groups").json()["items"]]
        assert tree.index("staff") < tree.index("ops") < tree.index("oncall")
        assert api.put("/groups/oncall/members/carol").status_code == 204
        assert [u["email"] for u in api.get("/groups/oncall/members").json()["items"]] == ["carol@acme.test"]
        assert api.get("/users/carol").json()["groups"] == ["oncall"]
        assert api.delete("/groups/oncall/members/carol").status_code == 204
        assert api.delete("/groups/oncall/members/carol").status_code == 404
        moved = api.patch("/groups/oncall", json={"parent": None}).json()
        assert moved["parent"] is None and moved["inherited_apps"] == []
        assert api.get("/groups/staff").json()["apps"] == ["grafana"]
        assert api.delete("/groups/oncall").status_code == 204


def test_sessions_list_and_revoke_one(api_world):
    w = api_world
    bob = users.get_user(w.store, w.tenant_id, "bob")
    new = sessions.create_session(w.store, w.tenant_id, bob.id, client_addr="192.0.2.7", user_agent="Firefox",
                                  method="pwd")
    with w.store.write() as conn:
        sessions.record_method_in(conn, w.tenant_id, new.id, "otp")
    with w.api(w.write_token) as api:
        listed = api.get("/sessions", params={"q": "192.0.2.7"}).json()
        assert [s["id"] for s in listed["items"]] == [new.id] and listed["items"][0]["email"] == "bob@acme.test"
        assert listed["items"][0]["methods"] == ["pwd", "otp"]
        assert listed["items"][0]["signed_in_with"] == "password + one-time code"
        assert api.delete(f"/sessions/{new.id}").json() == {"ended": 1}
        assert api.delete(f"/sessions/{new.id}").json() == {"ended": 0}
        assert api.get("/sessions", params={"q": "192.0.2.7"}).json()["total"] == 0
    zed = users.get_user(w.store, w.globex_id, "zed")
    theirs = sessions.create_session(w.store, w.globex_id, zed.id)
    with w.api(w.write_token) as api:
        assert api.delete(f"/sessions/{theirs.id}").status_code == 404
    assert sessions.get_session(w.store, w.globex_id, theirs.id).ended_at is None


def test_keys_rotate_and_list(api_world):
    w = api_world
    with w.api(w.write_token) as api:
        before = api.get("/keys").json()
        new = api.post("/keys/rotate").json()["id"]
        after = api.get("/keys").json()
    assert [k["id"] for k in after if k["signing"]] == [new]
    assert {k["id"] for k in before} <= {k["id"] for k in after}
    assert all("secret" not in k for k in after)


def test_pagination_has_totals_and_pushes_search_and_limits_to_the_database(api_world):
    w = api_world
    for i in range(30):
        users.add_user(w.store, w.tenant_id, CLI_ACTOR, email=f"page{i:02d}@acme.test")
    with w.api(w.read_token) as api:
        first = api.get("/users", params={"q": "page", "limit": 10}).json()
        second = api.get("/users", params={"q": "page", "limit": 10, "offset": 10}).json()
        last = api.get("/users", params={"q": "page", "limit": 10, "offset": 25}).json()
        assert first["total"] == second["total"] == 30 and (first["limit"], first["offset"]) == (10, 0)
        assert [u["email"] for u in first["items"]] == [f"page{i:02d}@acme.test" for i in range(10)]
        assert [u["email"] for u in second["items"]][0] == "page10@acme.test"
        assert len(last["items"]) == 5
        for params, field in (({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset"),
                              ({"limit": "ten"}, "limit")):
            r = api.get("/users", params=params)
            assert r.status_code == 422 and fields(r) == [field], params
        assert api.get("/users", params={"q": "100%_"}).json()["total"] == 0  # wildcards are literal


def test_api_changes_land_in_the_audit_log_with_the_token_and_address(api_world):
    w = api_world
    start = time.time()
    with w.api(w.write_token) as api:
        api.post("/groups", json={"name": "auditors"})
        api.put("/apps/wiki/grants/auditors")
        r = api.get("/audit", params={"actor": "api:writer", "since": start}).json()
        actions = [(e["action"], e["actor_addr"]) for e in r["items"]]
        assert ("group.add", "127.0.0.1") in actions and ("app.grant", "127.0.0.1") in actions
        assert all(e["actor"].startswith("api:writer#") for e in r["items"])
        grants = api.get("/audit", params={"entity": "app", "action": "app.grant", "since": start}).json()["items"]
        assert grants[0]["detail"] == {"group": "auditors"}
        assert api.get("/audit", params={"until": start - 3600}).json()["total"] == 0
        bad = api.get("/audit", params={"since": "yesterday"})
        assert bad.status_code == 422 and fields(bad) == ["since"]


def test_unknown_paths_and_methods_answer_json(api_world):
    with api_world.api(api_world.write_token) as api:
        assert api.get("/nothing").json()["error"] == "not_found"
        assert api.put("/users").status_code == 405


def test_rotating_keys_with_an_overlap_sets_every_older_keys_window(api_world):
    """Last in this module: an emergency rotation ends every cookie signed so far."""
    with api_world.api(api_world.write_token) as api:
        assert api.post("/keys/rotate", json={"overlap_seconds": 3600}).status_code == 200
        start = time.time()
        r = api.post("/keys/rotate", json={"overlap_seconds": 0})
        listed = api.get("/keys").json()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["overlap_seconds"] == 0
    assert {k["id"] for k in body["keys"]} == {k["id"] for k in listed}
    older = [k for k in body["keys"] if k["id"] != body["id"]]
    assert len(older) >= 2 and all(k["retire_at"] <= start + 3 for k in older), older
    assert next(k for k in body["keys"] if k["id"] == body["id"])["signing"]


@pytest.mark.parametrize("body", [{"overlap_seconds": -1}, {"overlap_seconds": "60"}, {"overlap_seconds": 1.5},
                                  {"overlap_seconds": True}, {"overlap_seconds": 10**9}, {"overlap": 60}])
def test_rotating_keys_refuses_a_bad_overlap_naming_the_field(api_world, body):
    with api_world.api(api_world.write_token) as api:
        before = api.get("/keys").json()
        r = api.post("/keys/rotate", json=body)
        assert api.get("/keys").json() == before
    assert r.status_code == 422, r.text
    assert fields(r) == [next(iter(body))]


def test_the_api_refuses_to_demote_or_disable_the_last_active_admin(api_world):
    """Fault: PATCH is_admin/active on a tenant's only admin left it with none."""
    w = api_world
    users.set_admin(w.store, w.globex_id, CLI_ACTOR, "zed@globex.test", True)  # globex's only admin
    zed_url = f"https://globex.id.example.test:{w.port}/api/v1/users/zed"
    with w.api(w.globex_token) as api:
        for change in ({"is_admin": False}, {"active": False}, {"password": "a whole new passphrase", "is_admin": False}):
            r = api.patch(zed_url, json=change)
            assert r.status_code == 409, (change, r.text)
            assert "last active administrator" in r.text and fields(r) == [next(k for k in change if k != "password")]
    zed = users.get_user(w.store, w.globex_id, "zed")
    assert zed.is_admin and zed.active
    assert users.authenticate(w.store, w.globex_id, "zed", PASSWORD) is not None  # nothing half-written


def test_verify_during_a_dns_outage_answers_503_and_leaves_the_domain_verified(api_world):
    """Fault: a verify while DNS does not answer turned a verified domain `failed`."""
    w = api_world
    before = domains.get_domain(w.store, w.tenant_id, "acme-corp.test")
    assert before.status == "verified"
    w.dns.stop()  # nothing answers on the resolver's port now: every query times out
    try:
        with w.api(w.write_token) as api:
            r = api.post("/domains/acme-corp.test/verify")
    finally:
        w.dns.start()
    assert r.status_code == 503 and r.headers["retry-after"] and r.json()["error"] == "dns_unanswered"
    assert "nothing changed" in r.json()["message"] and fields(r) == ["dns"]
    after = domains.get_domain(w.store, w.tenant_id, "acme-corp.test")
    assert (after.status, after.status_reason, after.last_checked_at) == (
        "verified", before.status_reason, before.last_checked_at)
