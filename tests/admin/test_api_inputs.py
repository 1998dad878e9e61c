"""Hostile and odd input through the JSON API and the admin pages, on SQLite
and PostgreSQL: huge offsets, wrong types, oversized fields and bodies, deep
JSON, groups in use and names that need care. Each answer is the documented
one (docs/api.md), never a 500."""

from __future__ import annotations

import re

import httpx
import pytest

from ostiary.services import sessions, users
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
