"""What the CLI and the API can do, the admin pages can do, with the same
rules: editing and deleting users, renaming groups, the session limits,
changing and deleting apps. Each change goes through a real server as a form
post (or a click in Chromium); the same change refused by the JSON API is
refused by the page, naming the same field, and the audit log records what
the API would have recorded (the admin as the actor)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ostiary.issuer import clients
from ostiary.services.rules import apps, groups, tenants, users
from ostiary.services.queries import audit
from ostiary.services.base.actor import Actor
from tests.admin.conftest import start_world, stop_world
from tests.pages.conftest import ADMIN, PASSWORD, axe_violations, form_csrf, signed_in_client
from tests.support.database import create_pg_database, drop_pg_database, pg_url

SETUP = Actor("setup")
CLI_DOC = Path(__file__).parents[2] / "docs" / "cli.md"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def either_world(request, world, tmp_path_factory):
    """This module's SQLite world, or a world of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield world
        return
    name = create_pg_database()
    w = start_world(tmp_path_factory.mktemp("parity-pg"), pg_url(name))
    try:
        yield w
    finally:
        stop_world(w)
        drop_pg_database(name)


def _csrf(client, world, path: str) -> str:
    page = client.get(world.url(path))
    assert page.status_code == 200, page.text
    return form_csrf(page.text)


def _entries(world, action: str, entity_id) -> list:
    return audit.audit_page(world.store, world.tenant_id, action=action, entity_id=str(entity_id), limit=50).items


def _form_errors(html: str, action: str) -> str:
    """The problems shown at the top of the form posting to `action` (empty when none)."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>\s*<div class="error-box" role="alert" '
                      rf'id="form-errors" tabindex="-1">(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


# --- users ---------------------------------------------------------------------------------

def test_a_users_details_are_changed_on_their_page_with_the_apis_rules(either_world):
    w = either_world
    row = users.add_user(w.store, w.tenant_id, SETUP, email="edith@acme.test", display_name="Edith",
                         password=PASSWORD)
    action = f"/admin/users/{row.id}/edit"
    with signed_in_client(w) as client, w.api(w.write_token) as api:
        csrf = _csrf(client, w, f"/admin/users/{row.id}")
        # A taken email: the page refuses it as PATCH /users does (409, field email), and writes nothing,
        # not even the name changed in the same form.
        taken = {"email": "alice@acme.test", "username": "edith", "display_name": "Edith Changed", "active": "on"}
        page = client.post(w.url(action), data={"csrf": csrf, **taken})
        by_api = api.patch("/users/edith@acme.test", json={"email": "alice@acme.test", "display_name": "Edith Changed"})
        assert (page.status_code, by_api.status_code) == (409, 409), page.text
        assert "email" in _form_errors(page.text, action) and by_api.json()["problems"][0]["field"] == "email"
        assert 'value="Edith Changed"' in page.text  # what was typed is shown again
        assert users.get_user(w.store, w.tenant_id, "edith@acme.test").display_name == "Edith"
        bad = client.post(w.url(action), data={"csrf": csrf, **taken, "email": "edith@acme.test",
                                                 "username": "two words"})
        assert bad.status_code == 422 and "username" in _form_errors(bad.text, action)
        assert api.patch("/users/edith@acme.test", json={"username": "two words"}).status_code == 422

        done = client.post(w.url(action), data={"csrf": csrf, "email": "edith.new@acme.test", "username": "edith2",
                                                  "display_name": "Edith Nouvelle", "is_admin": "on", "active": "on"})
        assert done.status_code == 303 and done.headers["location"] == f"/admin/users/{row.id}"
        assert "notice=" not in done.headers["location"]
        shown = api.get("/users/edith2").json()
        assert (shown["email"], shown["display_name"], shown["is_admin"], shown["active"]) == \
            ("edith.new@acme.test", "Edith Nouvelle", True, True)
        assert "User saved." in client.get(w.url(done.headers["location"])).text
    update = _entries(w, "user.update", row.id)
    assert len(update) == 1 and update[0].actor == ADMIN
    assert update[0].detail == {"email": "edith.new@acme.test", "username": "edith2",
                                            "display_name": "Edith Nouvelle"}
    assert [e.actor for e in _entries(w, "user.admin", row.id)] == [ADMIN]
    assert _entries(w, "user.enable", row.id) == []  # unchanged flags are not written again


def test_disabling_through_the_user_form_asks_first_and_an_admin_cannot_lock_themselves_out(either_world):
    w = either_world
    row = users.add_user(w.store, w.tenant_id, SETUP, email="frank@acme.test", display_name="Frank", password=PASSWORD)
    me = users.get_user(w.store, w.tenant_id, ADMIN)
    fields = {"email": "frank@acme.test", "username": "frank", "display_name": "Frank Renamed"}
    with signed_in_client(w) as client:
        csrf = _csrf(client, w, f"/admin/users/{row.id}")
        asked = client.post(w.url(f"/admin/users/{row.id}/edit"), data={"csrf": csrf, **fields})
        assert asked.status_code == 200 and "cannot sign in again" in asked.text
        assert 'name="confirm" value="1"' in asked.text and 'id="confirm-button"' in asked.text
        still = users.get_user(w.store, w.tenant_id, "frank@acme.test")
        assert still.active and still.display_name == "Frank"  # asking changed nothing
        confirmed = client.post(w.url(f"/admin/users/{row.id}/edit"),
                                data={"csrf": form_csrf(asked.text), **fields, "confirm": "1"})
        assert confirmed.status_code == 303
        gone = users.get_user(w.store, w.tenant_id, "frank@acme.test")
        assert not gone.active and gone.display_name == "Frank Renamed"
        assert [e.actor for e in _entries(w, "user.disable", row.id)] == [ADMIN]

        mine = {"email": ADMIN, "username": me.username, "display_name": me.display_name or "Admin", "active": "on"}
        refused = client.post(w.url(f"/admin/users/{me.id}/edit"), data={"csrf": csrf, **mine})
        assert refused.status_code == 422 and "your own admin rights" in refused.text
        assert users.get_user(w.store, w.tenant_id, ADMIN).is_admin


def test_a_user_is_deleted_after_a_confirmation_page_and_signed_out_at_once(either_world):
    w = either_world
    row = users.add_user(w.store, w.tenant_id, SETUP, email="gina@acme.test", password=PASSWORD)
    groups.add_member(w.store, w.tenant_id, SETUP, "sales", "gina@acme.test")
    me = users.get_user(w.store, w.tenant_id, ADMIN)
    with signed_in_client(w, "gina@acme.test") as gina, signed_in_client(w) as client:
        assert gina.get(w.url("/account")).status_code == 200
        page = client.get(w.url(f"/admin/users/{row.id}")).text
        assert page.count(f'href="/admin/users/{row.id}/delete"') == 1
        assert re.search(r"<h1>User gina@acme\.test\s*<datalist", page)  # the heading holds nothing else
        asked = client.get(w.url(f"/admin/users/{row.id}/delete"))
        assert asked.status_code == 200 and "sales" in asked.text and "cannot be undone" in asked.text
        assert f'action="/admin/users/{row.id}/delete"' in asked.text
        assert users.find_user(w.store, w.tenant_id, "gina@acme.test") is not None
        done = client.post(w.url(f"/admin/users/{row.id}/delete"), data={"csrf": form_csrf(asked.text)})
        assert done.status_code == 303 and done.headers["location"] == "/admin/users"
        assert "User gina@acme.test deleted" in client.get(w.url("/admin/users")).text
        assert users.find_user(w.store, w.tenant_id, "gina@acme.test") is None
        assert gina.get(w.url("/account")).status_code == 303  # her session ended with the account
        entry = _entries(w, "user.delete", row.id)
        assert entry[0].actor == ADMIN and entry[0].detail["email"] == "gina@acme.test"

        again = client.post(w.url(f"/admin/users/{row.id}/delete"), data={"csrf": form_csrf(asked.text)})
        assert again.status_code == 404
        own = client.post(w.url(f"/admin/users/{me.id}/delete"), data={"csrf": form_csrf(asked.text)})
        assert own.status_code == 422 and "you cannot delete your own account here" in own.text
        assert users.find_user(w.store, w.tenant_id, ADMIN) is not None


# --- the tenant's session limits -----------------------------------------------------------

def test_session_limits_are_set_on_the_settings_page_with_the_services_rules(either_world):
    w = either_world
    action = "/admin/settings/session-limits"
    before = tenants.tenant_by_slug(w.store, "acme")
    with signed_in_client(w) as client, w.api(w.write_token) as api:
        page = client.get(w.url("/admin/settings"))
        assert page.status_code == 200 and 'aria-current="page">Settings' in page.text
        csrf = form_csrf(page.text)
        wrong = client.post(w.url(action), data={"csrf": csrf, "idle_seconds": "2", "idle_unit": "hours",
                                                  "absolute_seconds": "1", "absolute_unit": "hours"})
        by_api = api.patch("/tenant", json={"session_idle_seconds": 7200, "session_absolute_seconds": 3600})
        assert (wrong.status_code, by_api.status_code) == (422, 422)
        assert "idle_seconds" in _form_errors(wrong.text, action) and "absolute limit" in wrong.text
        assert by_api.json()["problems"][0]["field"] == "idle_seconds"
        typed = client.post(w.url(action), data={"csrf": csrf, "idle_seconds": "soon", "idle_unit": "hours",
                                                  "absolute_seconds": "1", "absolute_unit": "weeks"})
        assert typed.status_code == 422
        assert "idle_seconds" in _form_errors(typed.text, action) and "absolute_unit" in typed.text
        no_csrf = client.post(w.url(action), data={"idle_seconds": "15", "idle_unit": "minutes",
                                                    "absolute_seconds": "1", "absolute_unit": "days"})
        assert no_csrf.status_code == 403
        now = tenants.tenant_by_slug(w.store, "acme")
        assert (now.session_idle_seconds, now.session_absolute_seconds) == \
            (before.session_idle_seconds, before.session_absolute_seconds)

        done = client.post(w.url(action), data={"csrf": csrf, "idle_seconds": "15", "idle_unit": "minutes",
                                                 "absolute_seconds": "1", "absolute_unit": "days"})
        assert done.status_code == 303 and done.headers["location"] == "/admin/settings"
        assert api.get("/tenant").json()["session_idle_seconds"] == 900
        assert api.get("/tenant").json()["session_absolute_seconds"] == 86400
        shown = client.get(w.url("/admin/settings")).text
        assert "15 minutes unused, 1 day at most" in shown and "open ones included" in shown
        assert 'value="15"' in shown and '<option value="minutes" selected>' in shown
    entry = _entries(w, "tenant.session_limits", w.tenant_id)[0]
    assert entry.actor == ADMIN and entry.detail == {"idle_seconds": 900, "absolute_seconds": 86400}


# --- groups and apps -----------------------------------------------------------------------

def test_a_group_is_renamed_keeping_its_members_and_grants(world):
    row = groups.add_group(world.store, world.tenant_id, SETUP, "night-shift")
    groups.add_member(world.store, world.tenant_id, SETUP, "night-shift", "carol@acme.test")
    apps.grant(world.store, world.tenant_id, SETUP, "wiki", "night-shift")
    action = f"/admin/groups/{row.id}/rename"
    with signed_in_client(world) as client, world.api(world.write_token) as api:
        csrf = _csrf(client, world, f"/admin/groups/{row.id}")
        taken = client.post(world.url(action), data={"csrf": csrf, "new_name": "SALES"})
        assert taken.status_code == 409 and "new_name" in _form_errors(taken.text, action)
        assert api.patch("/groups/night-shift", json={"name": "SALES"}).status_code == 409
        bad = client.post(world.url(action), data={"csrf": csrf, "new_name": "a,b"})
        assert bad.status_code == 422 and "new_name" in _form_errors(bad.text, action)
        done = client.post(world.url(action), data={"csrf": csrf, "new_name": "Nightshift"})
        assert done.status_code == 303
        assert "is now called Nightshift" in client.get(world.url(f"/admin/groups/{row.id}")).text
        shown = api.get("/groups/Nightshift").json()
        assert shown["apps"] == ["wiki"]
        assert [m["email"] for m in api.get("/groups/Nightshift/members").json()["items"]] == ["carol@acme.test"]
    entry = _entries(world, "group.rename", row.id)[0]
    assert entry.actor == ADMIN and entry.detail == {"old": "night-shift", "name": "Nightshift"}


def test_every_app_setting_the_cli_changes_is_changed_on_its_page_and_it_is_deleted_after_asking(world):
    row = apps.add_app(world.store, world.tenant_id, SETUP, name="ledger", url=f"https://ledger.acme-corp.test:{world.port}")
    with signed_in_client(world) as client, world.api(world.write_token) as api:
        csrf = _csrf(client, world, f"/admin/apps/{row.id}")
        elsewhere = client.post(world.url(f"/admin/apps/{row.id}"), data={
            "csrf": csrf, "url": "https://ledger.elsewhere.test", "headers": "user"})
        assert elsewhere.status_code == 422 and "url" in _form_errors(elsewhere.text, f"/admin/apps/{row.id}")
        assert api.patch("/apps/ledger", json={"url": "https://ledger.elsewhere.test"}).status_code == 404
        done = client.post(world.url(f"/admin/apps/{row.id}"), data={
            "csrf": csrf, "url": f"https://books.acme-corp.test:{world.port}", "public_paths": "/health\n/static/",
            "headers": ["user", "email"], "all_users": "on", "require_2fa": "on"})
        assert done.status_code == 303
        shown = api.get("/apps/ledger").json()
        assert shown["url"] == f"https://books.acme-corp.test:{world.port}" and shown["require_2fa"] is True
        assert shown["public_paths"] == ["/health", "/static/"] and shown["all_users"] is True
        assert set(shown["headers"]) == {"user", "email"}
        off = client.post(world.url(f"/admin/apps/{row.id}"), data={
            "csrf": csrf, "url": shown["url"], "headers": "user"})
        assert off.status_code == 303 and api.get("/apps/ledger").json()["require_2fa"] is False
        assert client.post(world.url(f"/admin/apps/{row.id}/enabled"),
                           data={"csrf": csrf, "enabled": "0"}).status_code == 303
        assert api.get("/apps/ledger").json()["enabled"] is False
        asked = client.get(world.url(f"/admin/apps/{row.id}/delete"))
        assert asked.status_code == 200 and "Nobody can enter" in asked.text and api.get("/apps/ledger").status_code == 200
        assert client.post(world.url(f"/admin/apps/{row.id}/delete"), data={"csrf": csrf}).status_code == 303
        assert api.get("/apps/ledger").status_code == 404
    assert [e.actor for e in _entries(world, "app.delete", row.id)] == [ADMIN]


# --- the parity table ----------------------------------------------------------------------

def test_the_parity_table_names_admin_pages_that_exist():
    """docs/cli.md's "What was compared" table has an admin-page column; every page or form it
    names is a route of the admin pages, and every row names one (or says why not)."""
    from ostiary.portal.admin.routes import admin_routes

    section = CLI_DOC.read_text().split("### What was compared", 1)[1].split("\n#", 1)[0]
    assert "| API | CLI | admin pages |" in section
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) > 15
    named = 0
    for line in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        assert len(cells) == 3, line
        pages = re.findall(r"([A-Z]+(?:/[A-Z]+)*) (/admin[^\s,]*)", cells[2].replace("`", ""))
        assert pages or cells[2].startswith("—"), f"no admin page named in: {line}"
        for methods, path in pages:
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            for method in methods.split("/"):
                assert any(route.path_regex.match(concrete) and method in route.methods for route in admin_routes), \
                    f"{method} {path} is not an admin page ({line})"
                named += 1
    assert named > 30


# --- in Chromium: the forms, their problems with focus, the confirmation pages --------------

def _focused_errors_of(page, action: str) -> str:
    assert page.locator(f"form[action='{action}'] > #form-errors").count() == 1, page.url
    assert page.evaluate("document.activeElement.id") == "form-errors"
    return page.inner_text(f"form[action='{action}'] > #form-errors")


@pytest.mark.slow
def test_in_the_browser_an_admin_edits_then_deletes_a_user_and_sets_the_session_limits(admin, world):
    row = users.add_user(world.store, world.tenant_id, SETUP, email="hugo@acme.test", display_name="Hugo",
                         password=PASSWORD)
    admin.goto(world.url(f"/admin/users/{row.id}"))
    admin.fill("#edit-email", "bob@acme.test")
    admin.click("button:text-is('Save details')")
    assert "email" in _focused_errors_of(admin, f"/admin/users/{row.id}/edit")
    assert admin.input_value("#edit-email") == "bob@acme.test"  # what was typed stays
    admin.fill("#edit-email", "hugo@acme.test")
    admin.fill("#edit-display-name", "Hugo Hugo")
    admin.check("#edit-is-admin")
    admin.click("button:text-is('Save details')")
    assert "User saved." in admin.inner_text(".notice")
    assert users.get_user(world.store, world.tenant_id, "hugo@acme.test").is_admin
    admin.click("text=Delete hugo@acme.test…")
    assert admin.url.endswith(f"/admin/users/{row.id}/delete")
    assert "cannot be undone" in admin.inner_text("#consequences")
    admin.click("text=Cancel")
    assert users.find_user(world.store, world.tenant_id, "hugo@acme.test") is not None
    admin.click("text=Delete hugo@acme.test…")
    admin.click("#confirm-button")
    assert admin.url.endswith("/admin/users")
    assert "User hugo@acme.test deleted" in admin.inner_text(".notice")
    assert users.find_user(world.store, world.tenant_id, "hugo@acme.test") is None

    admin.click("nav.admin-nav >> text=Settings")
    admin.fill("#idle_seconds", "40")
    admin.select_option("#idle_unit", "days")
    admin.click("button:text-is('Save session limits')")
    assert "must be between 60 seconds and 30 days" in _focused_errors_of(admin, "/admin/settings/session-limits")
    admin.fill("#idle_seconds", "8")
    admin.select_option("#idle_unit", "hours")
    admin.fill("#absolute_seconds", "14")
    admin.select_option("#absolute_unit", "days")
    admin.click("button:text-is('Save session limits')")
    assert "8 hours unused and 14 days at most" in admin.inner_text(".notice")
    now = tenants.tenant_by_slug(world.store, "acme")
    assert (now.session_idle_seconds, now.session_absolute_seconds) == (8 * 3600, 14 * 86400)


@pytest.fixture(scope="module")
def provider_ids(world, tmp_path_factory):
    from ostiary.services.rules import providers
    from ostiary.services.rules.providers import ProviderSettings

    secret = tmp_path_factory.mktemp("provider") / "secret"
    secret.write_text("not-shown\n")
    ids = [providers.add_provider(world.store, world.tenant_id, SETUP, name, ProviderSettings(
        preset="oidc", issuer=issuer, client_id=name, client_secret_ref=f"file:{secret}")).id
        for name, issuer in (("keycloak", "https://keycloak.example.test/realms/acme"),
                             ("authentik", "https://authentik.example.test/application/o/ostiary/"))]
    return ids  # the first stays; the test of removal removes the second


@pytest.mark.slow
def test_provider_problems_are_at_the_top_of_their_form_and_removing_one_asks_first(admin, world, provider_ids):
    from ostiary.services.rules import providers

    provider_id, doomed = provider_ids
    admin.goto(world.url(f"/admin/providers/{provider_id}"))
    admin.fill("#scopes", "email profile")
    admin.click("button:text-is('Save')")
    assert "scopes" in _focused_errors_of(admin, f"/admin/providers/{provider_id}")
    admin.goto(world.url("/admin/providers"))
    admin.fill("#name", "Not A Name!")
    admin.fill("#client_id", "x")
    admin.fill("#secret_where", "NOPE")
    admin.click("button:text-is('Add provider')")
    assert "name" in _focused_errors_of(admin, "/admin/providers")
    assert admin.locator("#form-errors").count() == 1  # not also at the directory form

    admin.goto(world.url(f"/admin/providers/{doomed}"))
    admin.click(f"a[href='/admin/providers/{doomed}/delete']")
    assert admin.url.endswith(f"/admin/providers/{doomed}/delete")
    assert "nobody can sign in through it" in admin.inner_text("#consequences")
    assert any(p.id == doomed for p in providers.list_providers(world.store, world.tenant_id))
    admin.click("text=Cancel")
    assert admin.url.endswith(f"/admin/providers/{doomed}")
    admin.click(f"a[href='/admin/providers/{doomed}/delete']")
    admin.click("#confirm-button")
    assert "removed with 0 linked identities" in admin.inner_text(".notice")
    assert not any(p.id == doomed for p in providers.list_providers(world.store, world.tenant_id))
    assert [e.actor for e in _entries(world, "provider.remove", doomed)] == [ADMIN]


# --- sorting and cards ---------------------------------------------------------------------

def test_the_group_tree_members_keys_and_providers_sort_by_their_columns(world, provider_ids):
    from ostiary.services.rules import keys

    staff = groups.get_group(world.store, world.tenant_id, "staff")
    for email in ("zoe@acme.test", "adam@acme.test"):
        users.add_user(world.store, world.tenant_id, SETUP, email=email, password=PASSWORD)
        groups.add_member(world.store, world.tenant_id, SETUP, "staff", email)
    keys.rotate_keys(world.store, SETUP, 3600)
    with signed_in_client(world) as client:
        tree = client.get(world.url("/admin/groups")).text
        by_name = client.get(world.url("/admin/groups"), params={"sort": "-name"}).text
        by_parent = client.get(world.url("/admin/groups"), params={"sort": "parent"}).text
        members = client.get(world.url(f"/admin/groups/{staff.id}"), params={"sort": "-email"}).text
        keys_up = client.get(world.url("/admin/keys"), params={"sort": "created"}).text
        keys_down = client.get(world.url("/admin/keys"), params={"sort": "-created"}).text
        listed = client.get(world.url("/admin/providers"), params={"sort": "-name"}).text
        odd = client.get(world.url("/admin/providers"), params={"sort": "client_secret_ref"})
    names = lambda html: re.findall(r'<td data-label="Group"[^>]*><a href="/admin/groups/\d+">([^<]+)</a>', html)  # noqa: E731
    assert names(tree).index("staff") + 1 == names(tree).index("ops")  # the tree: a child under its parent
    assert 'class="depth-1"><a href="/admin/groups/' in tree and 'class="cards tree"' in tree
    assert names(by_name) == sorted(names(by_name), key=str.casefold, reverse=True) and len(names(by_name)) >= 3
    assert 'aria-sort="descending"><a href="/admin/groups?sort=name"' in by_name and "depth-1" not in by_name
    parents = re.findall(r'<td data-label="Parent">(?:<a href="/admin/groups/\d+">([^<]+)</a>)?</td>', by_parent)
    placed = [p for p in parents if p]
    assert placed == sorted(placed, key=str.casefold) and parents[-1] == ""  # top-level groups last
    emails = re.findall(r'<td data-label="Email"><a href="/admin/users/\d+">([^<]+)</a>', members)
    assert emails == sorted(emails, reverse=True) and {"zoe@acme.test", "adam@acme.test"} <= set(emails)
    kids = lambda html: re.findall(r'<td data-label="Key"><code>([0-9a-f]+)</code>', html)  # noqa: E731
    assert len(kids(keys_up)) >= 2 and kids(keys_up) == list(reversed(kids(keys_down)))
    assert 'aria-sort="ascending"><a href="/admin/keys?sort=-created"' in keys_up
    providers_shown = re.findall(r'<td data-label="Name"><a href="/admin/providers/\d+">([^<]+)</a>', listed)
    assert providers_shown == sorted(providers_shown, reverse=True) and len(providers_shown) >= 1
    assert odd.status_code == 200


@pytest.mark.slow
def test_on_a_phone_the_new_lists_are_cards_and_nothing_scrolls_sideways(admin, world, provider_ids):
    staff = groups.get_group(world.store, world.tenant_id, "staff")
    users.add_user(world.store, world.tenant_id, SETUP, email="ivy@acme.test", password=PASSWORD)
    groups.add_member(world.store, world.tenant_id, SETUP, "staff", "ivy@acme.test")
    clients.add_client(world.store, world.tenant_id, SETUP, "grafana-phone", clients.ClientSettings(
        redirect_uris=["https://grafana.acme-corp.test/login/generic_oauth"], all_users=True))
    admin.set_viewport_size({"width": 375, "height": 740})
    try:
        for path in ("/admin/groups", f"/admin/groups/{staff.id}", "/admin/providers", "/admin/keys",
                     "/admin/oidc-clients", "/account"):
            admin.goto(world.url(path))
            assert admin.evaluate("getComputedStyle(document.querySelector('tbody tr')).display") == "block", path
            label = admin.evaluate("getComputedStyle(document.querySelector('tbody td[data-label]'), '::before')"
                                   ".content")
            assert label.endswith(': "'), (path, label)
            wide = admin.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert wide <= 0, (path, wide)
    finally:
        admin.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.slow
def test_the_new_pages_have_no_accessibility_violations(axe_page, world, provider_ids):
    provider_id = provider_ids[0]
    alice = users.find_user(world.store, world.tenant_id, "alice@acme.test")
    staff = groups.get_group(world.store, world.tenant_id, "staff")
    found = {}
    for path in ("/admin/settings", f"/admin/users/{alice.id}", f"/admin/users/{alice.id}/delete",
                 "/admin/groups?sort=parent", "/admin/groups", f"/admin/groups/{staff.id}?sort=-name",
                 "/admin/providers?sort=kind", f"/admin/providers/{provider_id}",
                 f"/admin/providers/{provider_id}/delete", "/admin/keys?sort=state"):
        found.update(axe_violations(axe_page, world.url(path)))
    assert not found, found
