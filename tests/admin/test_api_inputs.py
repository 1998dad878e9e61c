"""Hostile and odd input through the JSON API and the admin pages, on SQLite
and PostgreSQL: huge offsets, wrong types, oversized fields and bodies, deep
JSON, groups in use and names that need care. Each answer is the documented
one (docs/api.md), never a 500."""

from __future__ import annotations

import re

import httpx
import pytest

from ostiary.services.rules import sessions, users
from ostiary.wire import SESSION_COOKIE
from tests.admin.conftest import ADMIN, TENANT_HOST

PAGED = ["/domains", "/apps", "/users", "/groups", "/groups/staff/members", "/sessions", "/audit"]
ADMIN_LISTS = ["/admin/domains", "/admin/apps", "/admin/users", "/admin/groups", "/admin/sessions", "/admin/audit",
               "/admin/tokens"]
HUGE = [2**63 - 1, 2**63, 2**64, 10**30]


def fields(response) -> list[str]:
    return [p["field"] for p in response.json()["problems"]]


def admin_client(w) -> httpx.Client:
    """The admin's browser, signed in (a session made by the service layer)."""
    admin = users.get_user(w.store, w.tenant_id, ADMIN)
    session = sessions.create_session(w.store, w.tenant_id, admin.id)
    client = w.api()
    client.base_url = w.url("")
    client.cookies.set(SESSION_COOKIE, session.token, domain=TENANT_HOST, path="/")
    return client


def csrf(client: httpx.Client, page: str) -> str:
    r = client.get(page)
    assert r.status_code == 200, r.text[:300]
    return re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)


# --- 13.7: offsets the databases cannot hold ------------------------------------------------

@pytest.mark.parametrize("path", PAGED)
def test_an_offset_of_2_to_the_63_or_more_is_refused_with_422_naming_offset(api_world, path):
    with api_world.api(api_world.read_token) as api:
        for offset in HUGE:
            r = api.get(path, params={"offset": offset})
            assert r.status_code == 422, (offset, r.text[:300])
            assert r.json()["error"] == "invalid_input" and fields(r) == ["offset"]
            assert "1000000000" in r.json()["message"]
        assert api.get(path, params={"offset": 1_000_000_000}).status_code == 200  # the documented bound itself


@pytest.mark.parametrize("path", ADMIN_LISTS)
def test_an_admin_list_with_an_offset_of_2_to_the_63_shows_the_first_page(api_world, path):
    with admin_client(api_world) as browser:
        first = browser.get(path)
        for offset in HUGE:
            r = browser.get(path, params={"offset": offset, "limit": 2**64})
            assert r.status_code == 200, (offset, r.text[:300])
        assert r.text.count("<tr") == first.text.count("<tr")


# --- 14.6: strict types --------------------------------------------------------------------

@pytest.mark.parametrize("method,path,body,field", [
    ("POST", "/users", {"email": "strict1@acme.test", "is_admin": "yes"}, "is_admin"),
    ("POST", "/users", {"email": "strict2@acme.test", "is_admin": 1}, "is_admin"),
    ("PATCH", "/users/bob@acme.test", {"active": "false"}, "active"),
    ("PATCH", "/users/bob@acme.test", {"is_admin": "true"}, "is_admin"),
    ("PATCH", "/users/bob@acme.test", {"active": 0}, "active"),
    ("POST", "/apps", {"name": "strict", "url": "https://strict.acme-corp.test", "all_users": "true"}, "all_users"),
    ("PATCH", "/apps/tools", {"enabled": "false"}, "enabled"),
    ("POST", "/groups", {"name": 42}, "name"),
    ("POST", "/keys/rotate", {"overlap_seconds": "60"}, "overlap_seconds"),
    ("POST", "/users", {"email": "strict3@acme.test", "admin": True}, "admin"),  # unknown fields stay refused
])
def test_a_value_of_the_wrong_type_is_refused_with_422_naming_the_field(api_world, method, path, body, field):
    w = api_world
    with w.api(w.write_token) as api:
        r = api.request(method, path, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "invalid_input" and fields(r) == [field]
    bob = users.get_user(w.store, w.tenant_id, "bob@acme.test")
    assert bob.active and not bob.is_admin  # nothing converted, nothing changed
    assert not any(u.email.startswith("strict") for u in users.list_users(w.store, w.tenant_id, search="strict"))


# --- 14.7: every field and every body has a limit ------------------------------------------

def test_an_app_url_over_2048_characters_is_refused_naming_url(api_world):
    url = "https://long.acme-corp.test/" + "a" * 3000
    with api_world.api(api_world.write_token) as api:
        r = api.post("/apps", json={"name": "long", "url": url})
        assert r.status_code == 422 and fields(r) == ["url"] and "2048" in r.json()["message"]
        r = api.patch("/apps/tools", json={"url": url})
        assert r.status_code == 422 and fields(r) == ["url"]
        assert api.get("/apps/long").status_code == 404


def test_more_than_100_public_paths_are_refused_naming_public_paths(api_world):
    with api_world.api(api_world.write_token) as api:
        r = api.post("/apps", json={"name": "many", "url": "https://many.acme-corp.test", "public_paths": ["/p"] * 10_000})
        assert r.status_code == 422 and fields(r) == ["public_paths"] and "100" in r.json()["message"]
        r = api.patch("/apps/tools", json={"public_paths": [f"/p{i}" for i in range(101)]})
        assert r.status_code == 422 and fields(r) == ["public_paths"]
        r = api.patch("/apps/tools", json={"public_paths": ["/" + "p" * 2000]})
        assert r.status_code == 422 and fields(r) == ["public_path"]
        assert api.get("/apps/tools").json()["public_paths"] == []


def _raw_request(w, head: bytes, body: bytes) -> bytes:
    """Sends the head and only the start of a body over TLS; the answer as it came."""
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=str(w.ca))
    with socket.create_connection(("127.0.0.1", w.port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname=TENANT_HOST) as tls:
            tls.sendall(head + body)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                answer += chunk
            return answer


def test_a_10_mb_body_is_refused_with_413_before_it_is_read(api_world):
    w = api_world
    for path, kind, extra in (("/api/v1/groups", b"application/json", f"authorization: Bearer {w.write_token}\r\n"),
                              ("/sign-in", b"application/x-www-form-urlencoded", "")):
        head = (f"POST {path} HTTP/1.1\r\nhost: {TENANT_HOST}:{w.port}\r\n{extra}content-type: ".encode() + kind
                + b"\r\ncontent-length: 10485760\r\n\r\n")
        answer = _raw_request(w, head, b'{"name": "' + b"x" * 1000)  # the other 10 MB never come
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_chunked_body_growing_past_the_limit_is_refused_with_413(api_world):
    w = api_world

    def chunks():
        for _ in range(20):
            yield b"x" * 8192

    with w.api(w.write_token) as api:
        r = api.post("/groups", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large" and "65536" in r.json()["message"]


@pytest.mark.parametrize("depth,status", [(20_000, 422), (100_000, 413)])
def test_deeply_nested_json_gets_the_documented_error_shape(api_world, depth, status):
    with api_world.api(api_world.write_token) as api:
        r = api.post("/groups", content=b"[" * depth + b"]" * depth, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text[:300]
    assert set(r.json()) == {"error", "message", "problems"} and r.json()["problems"][0]["field"] == "body"


# --- 14.8: deleting a group in use, and names regardless of case ---------------------------

def test_deleting_a_group_in_use_through_the_api_needs_force_and_says_what_it_removes(api_world):
    w = api_world
    with w.api(w.write_token) as api:
        assert api.post("/groups", json={"name": "night-shift"}).status_code == 201
        assert api.put("/groups/night-shift/members/carol").status_code == 204
        assert api.put("/apps/wiki/grants/night-shift").status_code == 200
        r = api.delete("/groups/night-shift")
        assert r.status_code == 409 and fields(r) == ["group"]
        assert "removes 1 membership and its grant on wiki" in r.json()["message"] and "force=true" in r.json()["message"]
        assert api.get("/groups/night-shift").status_code == 200
        assert api.delete("/groups/night-shift", params={"force": "true"}).status_code == 204
        assert "night-shift" not in api.get("/apps/wiki").json()["groups"]
        clash = api.post("/groups", json={"name": "STAFF"})
        assert clash.status_code == 409 and "regardless of case" in clash.json()["message"]


def test_deleting_a_group_in_use_in_the_admin_pages_needs_a_confirmation(api_world):
    from ostiary.services.rules import groups
    from ostiary.services.base.actor import CLI_ACTOR

    w = api_world
    row = groups.add_group(w.store, w.tenant_id, CLI_ACTOR, "weekend")
    groups.add_member(w.store, w.tenant_id, CLI_ACTOR, "weekend", "bob@acme.test")
    with admin_client(w) as browser:
        page = browser.get(f"/admin/groups/{row.id}/delete")  # the confirmation page says what goes with it
        assert "Deleting weekend removes 1 membership" in page.text and 'name="confirm"' in page.text
        token = csrf(browser, f"/admin/groups/{row.id}")
        refused = browser.post(f"/admin/groups/{row.id}/delete", data={"csrf": token})
        assert refused.status_code == 409 and "is in use" in refused.text
        assert groups.get_group(w.store, w.tenant_id, "weekend")
        done = browser.post(f"/admin/groups/{row.id}/delete", data={"csrf": token, "confirm": "1"})
        assert done.status_code == 303
    assert "weekend" not in [g.name for g in groups.list_groups(w.store, w.tenant_id)]


# --- 14.13: every resource by id as well as by name; names holding "/" ---------------------

def test_a_group_named_with_a_slash_is_reachable_by_name_and_by_id(api_world):
    from urllib.parse import quote

    w = api_world
    with w.api(w.write_token) as api:
        made = api.post("/groups", json={"name": "Ops/Ærø"})
        assert made.status_code == 201, made.text
        gid = made.json()["id"]
        by_name = f"/groups/{quote('Ops/Ærø', safe='')}"
        assert api.get(by_name).json()["id"] == gid
        assert api.get(f"/groups/id:{gid}").json()["name"] == "Ops/Ærø"
        assert api.put(f"{by_name}/members/carol@acme.test").status_code == 204
        assert [u["email"] for u in api.get(f"/groups/id:{gid}/members").json()["items"]] == ["carol@acme.test"]
        assert api.put(f"/apps/tools/grants/{quote('Ops/Ærø', safe='')}").status_code == 200
        assert "Ops/Ærø" in api.get("/apps/tools").json()["groups"]
        assert api.delete(f"/apps/tools/grants/id:{gid}").status_code == 200
        assert api.delete(f"/groups/id:{gid}", params={"force": "true"}).status_code == 204
        assert api.get(by_name).status_code == 404


def test_every_resource_is_addressable_by_id(api_world):
    w = api_world
    with w.api(w.write_token) as api:
        domain = api.get("/domains/acme-corp.test").json()
        assert api.get(f"/domains/id:{domain['id']}").json()["name"] == "acme-corp.test"
        app = api.get("/apps/wiki").json()
        assert api.get(f"/apps/id:{app['id']}").json()["name"] == "wiki"
        assert api.get(f"/apps/id:{app['id']}/snippets/caddy").json()["app"] == "wiki"
        user = api.get("/users/bob@acme.test").json()
        assert api.get(f"/users/id:{user['id']}").json()["email"] == "bob@acme.test"
        assert api.get("/sessions", params={"user": f"id:{user['id']}"}).status_code == 200
        assert api.get("/groups/id:999999").status_code == 404
        bad = api.get("/groups/id:x")
        assert bad.status_code == 422 and fields(bad) == ["path"] and "name:id:x" in bad.json()["message"]
        assert api.post("/groups", json={"name": "id:7"}).status_code == 201
        assert api.get("/groups/name:id:7").json()["name"] == "id:7"
        assert api.get("/groups/name:sales").json()["name"] == "sales"
