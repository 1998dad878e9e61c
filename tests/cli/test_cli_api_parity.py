"""The command line and the API do the same things with the same rules:
what one refuses the other refuses (exit status 3/4 against 404/409), and
every API route is compared with a command in docs/cli.md."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from ostiary.cli.base import ExitCode
from ostiary.services.rules import tenants as tenants_service
from ostiary.services.rules import users as users_service
from tests.cli.conftest import row_counts

DOCS = Path(__file__).parents[2] / "docs" / "cli.md"
STATUS = {ExitCode.NOT_FOUND: 404, ExitCode.CONFLICT: 409, ExitCode.INVALID_INPUT: 422}


@pytest.fixture
def api(run, acme, db_url, tmp_path):
    """Calls the tenant's API in process with a write token made by the CLI: api("PATCH", "/users/bob", {...})."""
    from ostiary.app import create_app
    from ostiary.config import Settings

    token = run("token", "add", "parity", "--scope", "write").stdout.strip().splitlines()[-1]
    app = create_app(Settings(database_url=db_url, data_dir=tmp_path))
    app.holder.load()

    def call(method: str, path: str, body=None) -> httpx.Response:
        async def go():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="https://acme.id.example.test") as client:
                return await client.request(method, "/api/v1" + path, json=body,
                                            headers={"Authorization": f"Bearer {token}"})
        return asyncio.run(go())

    yield call
    app.store.dispose()


# The same refusal both ways: (CLI arguments, API call, exit status).
SAME_RULES = [
    (("user", "edit", "bob@acme.test", "--email", "admin@acme.test"),
     ("PATCH", "/users/bob@acme.test", {"email": "admin@acme.test"}), ExitCode.CONFLICT),
    (("user", "edit", "bob@acme.test", "--username", "two words"),
     ("PATCH", "/users/bob@acme.test", {"username": "two words"}), ExitCode.INVALID_INPUT),
    (("user", "delete", "admin@acme.test"), ("DELETE", "/users/admin@acme.test", None), ExitCode.CONFLICT),
    (("user", "delete", "nobody@acme.test"), ("DELETE", "/users/nobody@acme.test", None), ExitCode.NOT_FOUND),
    (("group", "rename", "staff", "Ops"), ("PATCH", "/groups/staff", {"name": "Ops"}), ExitCode.CONFLICT),
    (("group", "rename", "nosuch", "x"), ("PATCH", "/groups/nosuch", {"name": "x"}), ExitCode.NOT_FOUND),
    (("app", "change", "wiki", "--url", "https://wiki.elsewhere.test"),
     ("PATCH", "/apps/wiki", {"url": "https://wiki.elsewhere.test"}), ExitCode.NOT_FOUND),
    (("app", "delete", "nosuch"), ("DELETE", "/apps/nosuch", None), ExitCode.NOT_FOUND),
    (("tenant", "session-limits", "--idle", "2h", "--absolute", "1h"),
     ("PATCH", "/tenant", {"session_idle_seconds": 7200, "session_absolute_seconds": 3600}), ExitCode.INVALID_INPUT),
    (("tenant", "branding", "set", "--accent", "red"), ("PATCH", "/branding", {"accent_colour": "red"}),
     ExitCode.INVALID_INPUT),
    (("tenant", "branding", "set", "--name", " "), ("PATCH", "/branding", {"display_name": " "}),
     ExitCode.INVALID_INPUT),
]


@pytest.mark.parametrize("args,call,status", SAME_RULES, ids=[" ".join(a[:2]) for a, _, _ in SAME_RULES])
def test_the_cli_and_the_api_refuse_the_same_things(run, api, store, args, call, status):
    before = row_counts(store)
    done = run(*args)
    assert done.status == status, done.stderr
    answer = api(*call)
    assert answer.status_code == STATUS[status], answer.text
    assert row_counts(store) == before
    field = answer.json()["problems"][0]["field"]
    assert field and field in done.stderr  # both name the same field


def test_what_the_cli_changes_the_api_reads_and_back(run, api, store, acme):
    assert run("user", "edit", "bob", "--name", "Robert").status == 0
    assert api("GET", "/users/bob").json()["display_name"] == "Robert"
    assert api("PATCH", "/users/bob", {"username": "robert", "email": "robert@acme.test"}).status_code == 200
    shown = run("user", "show", "robert", "--json").json()
    assert (shown["email"], shown["username"]) == ("robert@acme.test", "robert")

    renamed = api("PATCH", "/groups/ops", {"name": "Operations", "parent": None})
    assert renamed.status_code == 200 and (renamed.json()["name"], renamed.json()["parent"]) == ("Operations", None)
    assert run("group", "show", "Operations", "--json").json()["path"] == "Operations"
    cycle = api("PATCH", "/groups/staff", {"name": "Everyone", "parent": "staff"})
    assert cycle.status_code == 422  # both changes, or neither
    assert run("group", "show", "staff").status == 0

    assert api("PATCH", "/apps/wiki", {"require_2fa": True}).json()["require_2fa"] is True
    assert run("app", "show", "wiki", "--json").json()["require_2fa"] is True
    assert run("app", "change", "wiki", "--no-require-2fa").status == 0
    assert api("GET", "/apps/wiki").json()["require_2fa"] is False

    assert api("GET", "/tenant").json() == run("tenant", "show", "--json").json()
    assert api("PATCH", "/tenant", {"session_idle_seconds": 900, "session_absolute_seconds": 86400}).status_code == 200
    assert tenants_service.tenant_by_slug(store, "acme").session_idle_seconds == 900
    assert run("tenant", "show", "--json").json()["session_absolute_seconds"] == 86400

    assert run("tenant", "branding", "set", "--name", "Acme Corp", "--contact", "it@acme.test").status == 0
    assert api("GET", "/branding").json() == run("tenant", "branding", "show", "--json").json()
    assert api("PATCH", "/branding", {"accent_colour": "#AA3300"}).json()["accent_colour"] == "#aa3300"
    assert run("tenant", "branding", "show", "--json").json()["accent_colour"] == "#aa3300"

    assert api("DELETE", "/users/robert").status_code == 204
    assert users_service.find_user(store, acme, "robert") is None
    actors = {e["action"]: e["actor"] for e in run("audit", "--json", "--limit", "500").json()}
    assert actors["user.delete"].startswith("api:parity") and actors["tenant.session_limits"].startswith("api:")


def test_a_read_token_cannot_delete_or_set_limits(run, acme, db_url, tmp_path):
    from ostiary.app import create_app
    from ostiary.config import Settings

    token = run("token", "add", "reader").stdout.strip().splitlines()[-1]
    app = create_app(Settings(database_url=db_url, data_dir=tmp_path))
    app.holder.load()

    async def go(method, path, body=None):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://acme.id.example.test") as c:
            return (await c.request(method, "/api/v1" + path, json=body,
                                    headers={"Authorization": f"Bearer {token}"})).status_code

    try:
        assert asyncio.run(go("DELETE", "/users/bob")) == 403
        assert asyncio.run(go("PATCH", "/tenant", {"session_idle_seconds": 900,
                                                     "session_absolute_seconds": 3600})) == 403
        assert asyncio.run(go("GET", "/tenant")) == 200
    finally:
        app.store.dispose()


def test_every_api_route_is_compared_in_the_cli_reference():
    """A route added to the API without a line in docs/cli.md ("What was compared") fails here."""
    from ostiary.portal.api.routes import ROUTERS

    table = DOCS.read_text().split("### What was compared", 1)[1]
    compared = set()
    for line in table.splitlines():
        cell = line.split("|")[1].replace("`", "") if line.startswith("|") else ""
        for methods, path in re.findall(r"([A-Z]+(?:/[A-Z]+)*) (/[^\s,]*)", cell):
            compared.update((m, re.sub(r"\{[^}]+\}", "{}", path)) for m in methods.split("/"))
    assert len(compared) > 30
    for router in ROUTERS:
        for route in router.routes:
            for method in route.methods - {"HEAD"}:
                assert (method, re.sub(r"\{[^}]+\}", "{}", route.path)) in compared, \
                    f"{method} {route.path} is not compared in docs/cli.md"
