"""The admin pages an admin likes to use: an overview of the state of
things, errors at the top of the form they belong to, confirmation pages for
destructive actions, one proxy snippet at a time, pickers, a readable and
exportable audit log, sortable lists that become cards on a phone."""

from __future__ import annotations

import csv
import io
import re

import pytest

from ostiary.services.rules import api_tokens, apps, domains, groups, keys, users
from ostiary.services.base.actor import Actor
from tests.pages.conftest import PASSWORD, axe_violations, form_csrf, signed_in_client
from tests.support.server import loopback_client

SETUP = Actor("setup")


def _fail_sign_in(world, login: str, times: int) -> None:
    with loopback_client(world.ca) as client:
        for _ in range(times):
            page = client.get(world.url("/sign-in"))
            answer = client.post(world.url("/sign-in"), data={"csrf": form_csrf(page.text), "login": login,
                                                              "password": "not " + PASSWORD, "next": "/"})
            assert answer.status_code in (401, 429)


def test_overview_shows_counts_domains_needing_attention_sign_in_trouble_and_what_expires(world):
    domains.add_domain(world.store, world.tenant_id, SETUP, "pending.test", "auth.pending.test")
    api_tokens.create_token(world.store, world.tenant_id, SETUP, "expiring-soon", "read", 3)
    keys.rotate_keys(world.store, SETUP, 3600)
    _fail_sign_in(world, "carol@acme.test", 5)  # the fifth blocks this address for carol
    _fail_sign_in(world, "nobody-here", 1)
    with signed_in_client(world) as client:
        page = client.get(world.url("/admin")).text
    counts = dict((label.strip(), int(n)) for n, label in
                  re.findall(r'<span class="count">(\d+)</span>([^<]+)</a>', page))
    assert counts["users"] == 4 and counts["administrators"] == 1 and counts["apps"] == 3 and counts["groups"] == 3 and counts["domains"] == 2
    assert counts["live sessions"] >= 1
    attention = page.split('id="attention-domains"')[1].split("</ul>")[0]
    assert "pending.test" in attention and "acme-corp.test" not in attention
    failed = page.split('id="failed-sign-ins"')[1].split("</ul>")[0]
    assert "carol@acme.test</strong>: 5 failed attempts" in failed
    assert "nobody-here (no such user)</strong>: 1 failed attempt " in failed
    throttled = page.split('id="throttled"')[1].split("</ul>")[0]
    assert "127.0.0.1</strong> may not try <strong>carol@acme.test" in throttled
    ending = page.split('id="ending"')[1].split("</ul>")[0]
    assert "Signing key" in ending and "expiring-soon" in ending and "reader" not in ending


def test_overview_shows_nothing_of_another_tenant(world):
    _fail_sign_in(world, "zed@globex.test", 1)  # a globex login typed at acme's host counts for acme: not zed's
    api_tokens.create_token(world.store, world.globex_id, SETUP, "globex-soon", "read", 2)
    with signed_in_client(world) as client:
        page = client.get(world.url("/admin")).text
    assert "globex-soon" not in page
    assert "zed@globex.test (no such user)" in page  # as typed: no acme user has that email


def _id_of_user(world, email: str) -> int:
    return users.find_user(world.store, world.tenant_id, email).id


@pytest.mark.slow
def test_a_refused_form_shows_its_problems_at_its_own_top_with_focus_there_in_web_words(admin, world):
    alice = _id_of_user(world, "alice@acme.test")
    admin.goto(world.url(f"/admin/users/{alice}"))
    admin.fill("#password", "short")
    admin.click("button:text-is('Set password')")
    assert admin.locator(f"form[action='/admin/users/{alice}/password'] > #form-errors").count() == 1
    assert admin.evaluate("document.activeElement.id") == "form-errors"
    top = admin.evaluate("document.getElementById('form-errors').getBoundingClientRect().top")
    assert 0 <= top < admin.viewport_size["height"], "the problems are in view"
    admin.fill("#group", "no-such-group")
    admin.click("button:text-is('Add')")
    message = admin.inner_text(f"form[action='/admin/users/{alice}/groups'] > #form-errors")
    assert "Groups page" in message and "ostiary" not in message and "`" not in message


@pytest.mark.slow
def test_destructive_actions_ask_first_on_a_page_that_says_what_happens_without_javascript(browser, admin, world):
    row = apps.add_app(world.store, world.tenant_id, SETUP, name="doomed", url=f"https://doomed.acme-corp.test:{world.port}",
                       groups_granted=["sales"])
    token = api_tokens.create_token(world.store, world.tenant_id, SETUP, "doomed-token", "read")
    groups.add_group(world.store, world.tenant_id, SETUP, "doomed-group")
    groups.add_member(world.store, world.tenant_id, SETUP, "doomed-group", "bob@acme.test")
    users.add_user(world.store, world.tenant_id, SETUP, email="doomed@acme.test", password=PASSWORD)
    context = browser.new_context(ignore_https_errors=True, java_script_enabled=False)
    context.add_cookies(admin.context.cookies())
    page = context.new_page()
    try:
        page.goto(world.url(f"/admin/apps/{row.id}"))
        page.click("text=Delete doomed…")
        assert page.url.endswith(f"/admin/apps/{row.id}/delete")
        assert "Nobody can enter" in page.inner_text("#consequences") and "sales" in page.inner_text("#consequences")
        page.click("text=Cancel")
        assert apps.list_apps(world.store, world.tenant_id) and page.url.endswith(f"/admin/apps/{row.id}")
        page.click("text=Delete doomed…")
        page.click("#confirm-button")
        assert "doomed" not in [a.name for a in apps.list_apps(world.store, world.tenant_id)]
        assert "App doomed deleted." in page.inner_text(".notice")

        page.goto(world.url("/admin/tokens"))
        page.click("a[aria-label='Revoke token doomed-token']")
        assert "401" in page.inner_text("#consequences")
        with world.api(token.token) as api:
            assert api.get("/me").status_code == 200  # asking changed nothing
        page.click("#confirm-button")
        with world.api(token.token) as api:
            assert api.get("/me").status_code == 401

        group = groups.get_group(world.store, world.tenant_id, "doomed-group")
        page.goto(world.url(f"/admin/groups/{group.id}"))
        page.click("text=Delete doomed-group…")
        assert "1 membership" in page.inner_text("#consequences")
        page.click("#confirm-button")
        assert "Group doomed-group deleted." in page.inner_text(".notice")

        doomed = _id_of_user(world, "doomed@acme.test")
        page.goto(world.url(f"/admin/users/{doomed}"))
        page.click("text=Disable and sign out everywhere…")
        assert "cannot sign in again" in page.inner_text("#consequences")
        assert users.find_user(world.store, world.tenant_id, "doomed@acme.test").active
        page.click("#confirm-button")
        assert not users.find_user(world.store, world.tenant_id, "doomed@acme.test").active

        before = len(keys.list_keys(world.store))
        page.goto(world.url("/admin/keys"))
        page.fill("#overlap_seconds", "0")
        page.click("button:text-is('Rotate keys…')")
        assert "signed out of every app" in page.inner_text("#consequences")
        assert len(keys.list_keys(world.store)) == before
        page.goto(world.url("/admin/keys/rotate?overlap_seconds=-3"))
        assert "overlap_seconds" in page.inner_text("#form-errors")
    finally:
        context.close()


def test_the_app_page_shows_one_chosen_snippet_and_links_its_groups(world):
    grafana = apps.list_apps(world.store, world.tenant_id, "grafana")[0]
    staff = groups.get_group(world.store, world.tenant_id, "staff")
    with signed_in_client(world) as client:
        default = client.get(world.url(f"/admin/apps/{grafana.id}")).text
        nginx = client.get(world.url(f"/admin/apps/{grafana.id}"), params={"proxy": "nginx"}).text
        unknown = client.get(world.url(f"/admin/apps/{grafana.id}"), params={"proxy": "<b>"}).text
        group_page = client.get(world.url(f"/admin/groups/{staff.id}")).text
    assert default.count('<pre id="snippet-') == 1 and '<pre id="snippet-caddy"' in default
    assert nginx.count('<pre id="snippet-') == 1 and '<pre id="snippet-nginx"' in nginx
    assert 'href="?proxy=nginx#snippets" aria-current="true"' in nginx
    assert '<pre id="snippet-caddy"' in unknown and "<b>" not in unknown.split("<main")[1]
    assert f'<a href="/admin/groups/{staff.id}">staff</a>' in default
    assert f'<a href="/admin/apps/{grafana.id}">grafana</a>' in group_page
    for name in ("staff", "ops", "sales"):
        assert f'<option value="{name}">' in default and f'<option value="{name}">' in group_page
    assert '<option value="alice@acme.test">' in group_page and 'list="user-emails"' in group_page
    assert 'id="grant-group" name="group" type="text" required placeholder="staff" list="group-names"' in default


def test_the_audit_log_shows_names_and_readable_changes_filters_by_action_and_exports_csv(world):
    groups.add_group(world.store, world.tenant_id, SETUP, "=HYPERLINK(\"https://evil.test\")")
    with signed_in_client(world) as client:
        page = client.get(world.url("/admin/users"))
        client.post(world.url("/admin/users"), data={"csrf": form_csrf(page.text), "email": "dora@acme.test"})
        with signed_in_client(world, "alice@acme.test"):
            pass  # alice signs in: a session.start recorded as "user:<id>"
        log = client.get(world.url("/admin/audit")).text
        only_adds = client.get(world.url("/admin/audit"), params={"action": "user.add"}).text
        export = client.get(world.url("/admin/audit.csv"), params={"action": "group.add"})
    body = log.split("<tbody>")[1]
    assert not re.search(r"user:\d", body) and "=False" not in body and "['" not in body
    assert "alice@acme.test" in body and "Signed in" in body
    dora = users.find_user(world.store, world.tenant_id, "dora@acme.test")
    assert f'<a href="/admin/users/{dora.id}">dora@acme.test</a>' in body and "<li>administrator: no</li>" in body
    rows = only_adds.split("<tbody>")[1].split("</tbody>")[0]
    assert "User created" in rows and "Signed in" not in rows and "Group created" not in rows
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(export.text)))
    assert table[0][:5] == ["time (UTC)", "actor", "from address", "action", "subject"]
    assert {r[3] for r in table[1:]} == {"Group created"}
    evil = [r for r in table[1:] if "HYPERLINK" in r[4]]
    assert evil and evil[0][4].startswith("'="), "a formula is written as text"


def test_lists_sort_by_their_columns_and_say_so(world):
    with signed_in_client(world) as client:
        up = client.get(world.url("/admin/users"), params={"sort": "email"}).text
        down = client.get(world.url("/admin/users"), params={"sort": "-email", "q": "acme"}).text
        odd = client.get(world.url("/admin/users"), params={"sort": "password_hash"})
        sessions = client.get(world.url("/admin/sessions"), params={"sort": "-user"}).text
        apps_down = client.get(world.url("/admin/apps"), params={"sort": "-name"}).text
    emails = lambda html: re.findall(r'<td data-label="Email"><a href="/admin/users/\d+">([^<]+)</a>', html)  # noqa: E731
    assert emails(up) == sorted(emails(up)) and len(emails(up)) >= 4
    assert emails(down) == sorted(emails(down), reverse=True)
    assert 'aria-sort="ascending"><a href="/admin/users?sort=-email"' in up
    assert 'aria-sort="descending"><a href="/admin/users?sort=email&amp;q=acme"' in down
    assert odd.status_code == 200 and emails(odd.text) == sorted(emails(odd.text))  # unknown key: the usual order
    users_seen = re.findall(r'<td data-label="User"><a href="/admin/users/\d+">([^<]+)</a>', sessions)
    assert users_seen == sorted(users_seen, reverse=True)
    browsers = re.findall(r'<td data-label="Browser" class="ua">([^<]*)</td>', sessions)
    assert "a Python script" in browsers and not any("Mozilla" in b or "httpx" in b for b in browsers), browsers
    names = re.findall(r'<td data-label="App"><a href="/admin/apps/\d+">([^<]+)</a>', apps_down)
    assert names == sorted(names, reverse=True)


@pytest.mark.slow
def test_on_a_phone_lists_show_rows_as_cards_and_nothing_scrolls_sideways(admin, world):
    admin.set_viewport_size({"width": 375, "height": 740})
    try:
        for path in ("/admin/users", "/admin/apps", "/admin/domains", "/admin/sessions", "/admin/tokens",
                     "/admin/audit", "/admin/keys"):
            admin.goto(world.url(path))
            assert admin.evaluate("getComputedStyle(document.querySelector('tbody tr')).display") == "block", path
            label = admin.evaluate("getComputedStyle(document.querySelector('tbody td[data-label]'), '::before')"
                                   ".content")
            assert label.endswith(': "'), (path, label)
            wide = admin.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert wide <= 0, (path, wide)
        admin.set_viewport_size({"width": 1280, "height": 900})
        admin.goto(world.url("/admin/users"))
        assert admin.evaluate("getComputedStyle(document.querySelector('tbody tr')).display") == "table-row"
    finally:
        admin.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.slow
def test_admin_pages_have_no_accessibility_violations_in_either_look_at_either_width(axe_page, world):
    grafana = apps.list_apps(world.store, world.tenant_id, "grafana")[0]
    staff = groups.get_group(world.store, world.tenant_id, "staff")
    alice = _id_of_user(world, "alice@acme.test")
    found = {}
    for path in ("/admin", "/admin/domains", "/admin/domains/acme-corp.test", "/admin/apps",
                 f"/admin/apps/{grafana.id}?proxy=nginx", "/admin/users?sort=-email", f"/admin/users/{alice}",
                 "/admin/groups", f"/admin/groups/{staff.id}", "/admin/sessions", "/admin/audit", "/admin/keys",
                 "/admin/tokens", f"/admin/apps/{grafana.id}/delete", "/admin/keys/rotate?overlap_seconds=0",
                 "/admin/keys/rotate?overlap_seconds=-1"):
        found.update(axe_violations(axe_page, world.url(path)))
    assert not found, found
