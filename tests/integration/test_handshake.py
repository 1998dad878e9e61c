"""The forward-auth handshake walked over real HTTP against a running
Ostiary (docs/contract.md §2, §3 and §7)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from ostiary.services.rules import apps, groups, users
from ostiary.services.base.actor import CLI_ACTOR
from tests.integration.conftest import ACME, wait_until


def test_one_app_signs_in_once_and_reaches_the_app_with_identity_headers(world):
    v = world.visitor("alice@acme.test")
    visit = v.open(world.url("grafana.acme-corp.test", "/d/x?y=1"))
    assert visit.reached_app
    assert v.sign_ins == 1
    assert visit.final.url == world.url("grafana.acme-corp.test", "/d/x?y=1")
    assert visit.identity("x-forwarded-user") == "alice"
    assert visit.identity("x-forwarded-email") == "alice@acme.test"
    assert visit.identity("x-forwarded-display-name") == "Alice Ørsted-Ünal"
    # alice is in "ops", a child of "staff", the group that grants grafana.
    assert visit.identity("x-forwarded-groups") == "ops,staff"
    hosts = [urlsplit(s.url).hostname for s in visit.steps]
    assert hosts[:3] == ["grafana.acme-corp.test", "auth.acme-corp.test", ACME]


def test_a_sibling_cookie_with_utf8_bytes_hides_neither_the_gate_nor_the_portal(world):
    """An app on the same domain may set a cookie whose value holds UTF-8 bytes, and
    browsers send it back as it was set, in the one Cookie header with Ostiary's. The
    gate and the portal still find their own cookies beside it. Granian's RSGI
    interface drops such a header value whole; that is why `ostiary serve` answers
    through ASGI, which passes header bytes intact (BENCHMARKS.md, "The floor")."""
    v = world.visitor("alice@acme.test")
    assert v.open(world.url("grafana.acme-corp.test", "/")).reached_app
    sibling = "pref=caf\u00e9-\u00fcber".encode("utf-8")
    app_cookies = v.cookies_for(world.url("grafana.acme-corp.test", "/")).encode("ascii")
    r = v.check(world.url("grafana.acme-corp.test", "/"), cookie=sibling + b"; " + app_cookies)
    assert r.status_code == 200, r.text
    assert r.headers["x-forwarded-user"] == "alice"
    account = f"https://{ACME}:{world.port}/account"
    r = v.proxy.get(account, headers={"Accept": "text/html",
                                      "Cookie": v.cookies_for(account).encode("ascii") + b"; " + sibling})
    assert r.status_code == 200 and "alice@acme.test" in r.text, (r.status_code, r.headers.get("location"))
    # The control: without the portal's session cookie the same page sends the browser to sign in.
    assert v.proxy.get(account, headers={"Accept": "text/html", "Cookie": sibling}).status_code in (302, 303)


def test_the_first_redirect_is_absolute_and_carries_the_full_original_url(world):
    r = world.visitor().check(world.url("grafana.acme-corp.test", "/d/x?y=1&z=%C3%A9"))
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(f"https://auth.acme-corp.test:{world.port}/forward-auth/start?rd=")
    assert parse_qs(urlsplit(location).query)["rd"] == [world.url("grafana.acme-corp.test", "/d/x?y=1&z=%C3%A9")]


def test_two_apps_on_one_domain_share_the_cookie_but_not_the_decision(world):
    v = world.signed_in("alice@acme.test")
    assert v.check(world.url("grafana.acme-corp.test", "/")).status_code == 200
    assert v.check(world.url("wiki.acme-corp.test", "/")).status_code == 403
    bob = world.signed_in("bob@acme.test", "wiki.acme-corp.test")
    assert bob.check(world.url("wiki.acme-corp.test", "/")).status_code == 200
    assert bob.check(world.url("grafana.acme-corp.test", "/")).status_code == 403


def test_longest_path_prefix_decides_between_apps_on_one_host(world):
    v = world.signed_in("alice@acme.test", "tools.acme-corp.test")
    assert v.check(world.url("tools.acme-corp.test", "/")).status_code == 200
    assert v.check(world.url("tools.acme-corp.test", "/administrator")).status_code == 200
    assert v.check(world.url("tools.acme-corp.test", "/admin/users")).status_code == 403
    assert v.check(world.url("tools.acme-corp.test", "/admin")).status_code == 403


def test_two_unrelated_domains_need_only_one_sign_in(world):
    v = world.signed_in("alice@acme.test")
    visit = v.open(world.url("nas.homelab.test", "/files"))
    assert visit.reached_app
    assert v.sign_ins == 1
    assert visit.identity("x-forwarded-user") == "alice"
    assert not any(urlsplit(s.url).path == "/sign-in" for s in visit.steps)


def test_a_user_who_may_not_enter_gets_a_403_page_naming_the_app_and_no_loop(world):
    v = world.visitor("bob@acme.test")
    visit = v.open(world.url("grafana.acme-corp.test", "/"))
    assert visit.final.status == 403
    assert "grafana" in visit.final.text
    assert len(visit.steps) <= 6
    # Once bob holds a cookie for the domain (from an app he may enter), /check answers 403 itself.
    v.open(world.url("wiki.acme-corp.test", "/"))
    assert v.check(world.url("grafana.acme-corp.test", "/")).status_code == 403


def test_public_paths_are_open_with_empty_identity_headers(world):
    v = world.visitor()
    for path in ("/static/app.js", "/static/css/x.css", "/health", "/health?x=1"):
        r = v.check(world.url("grafana.acme-corp.test", path))
        assert r.status_code == 200, path
        for h in ("x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-display-name"):
            assert r.headers[h] == ""
    for path in ("/static", "/healthz", "/health/more", "/static/../admin", "/static/%2e%2e/admin",
                 "/x?/static/a", "/static/%252e%252e/admin", "/static;x/a"):
        assert v.check(world.url("grafana.acme-corp.test", path)).status_code == 302, path


def test_post_and_xhr_without_a_session_get_401_with_the_target(world):
    v = world.visitor()
    url = world.url("grafana.acme-corp.test", "/api/save")
    for r in (
        v.check(url, method="POST"),
        v.check(url, headers={"X-Requested-With": "XMLHttpRequest"}),
        v.check(url, headers={"Sec-Fetch-Mode": "cors", "Accept": "application/json"}),
        v.check(url, headers={"Accept": "application/json", "Sec-Fetch-Mode": "navigate"}),
    ):
        assert r.status_code == 401
        assert "location" not in r.headers
        assert r.headers["x-ostiary-location"].startswith(f"https://auth.acme-corp.test:{world.port}/forward-auth/start?rd=")


def test_nginx_mode_answers_401_even_for_navigations(world):
    r = world.visitor().check(world.url("grafana.acme-corp.test", "/"), nginx=True)
    assert r.status_code == 401
    assert "/forward-auth/start?rd=" in r.headers["x-ostiary-location"]


def test_an_unknown_host_or_unverified_portal_is_refused(world):
    v = world.visitor()
    assert v.check(world.url("grafana.acme-corp.test", "/"), headers={"X-Forwarded-Host": "evil.test"}).status_code == 403
    r = v.proxy.get(f"https://auth.acme-corp.test:{world.port}/forward-auth/check",
                    headers={"Host": "unknown.test", "X-Forwarded-Host": "grafana.acme-corp.test",
                             "X-Forwarded-Proto": "https", "X-Forwarded-Uri": "/"})
    assert r.status_code == 403


def test_a_disabled_user_is_refused_within_a_second(world):
    v = world.signed_in("dave@acme.test")
    users.set_active(world.store, world.acme, CLI_ACTOR, "dave@acme.test", False)
    delay = wait_until(lambda: all(v.check(world.url("grafana.acme-corp.test", "/")).status_code == 302
                                   for _ in range(4)))
    assert delay < 1.0


def test_removing_a_membership_or_a_grant_takes_effect_within_a_second(world):
    groups.add_group(world.store, world.acme, CLI_ACTOR, "nas-users")
    users.add_user(world.store, world.acme, CLI_ACTOR, email="fay@acme.test", password="correct horse battery")
    groups.add_member(world.store, world.acme, CLI_ACTOR, "nas-users", "fay@acme.test")
    apps.grant(world.store, world.acme, CLI_ACTOR, "nas", "nas-users")
    groups.add_member(world.store, world.acme, CLI_ACTOR, "staff", "fay@acme.test")
    time.sleep(0.5)
    v = world.signed_in("fay@acme.test", "nas.homelab.test")
    nas = world.url("nas.homelab.test", "/")
    groups.remove_member(world.store, world.acme, CLI_ACTOR, "staff", "fay@acme.test")
    time.sleep(0.5)
    assert v.check(nas).status_code == 200  # still granted through nas-users
    apps.revoke(world.store, world.acme, CLI_ACTOR, "nas", "nas-users")
    wait_until(lambda: all(v.check(nas).status_code == 403 for _ in range(4)))


def test_sign_out_on_one_domain_ends_access_on_every_domain_within_a_second(world):
    v = world.signed_in("erin@acme.test")
    assert v.open(world.url("nas.homelab.test", "/")).reached_app
    r = v.sign_out("auth.acme-corp.test")
    assert r.status_code == 200
    assert "signed out" in r.text.lower()
    nas_cookie = v.cookies_for(world.url("nas.homelab.test", "/"))
    assert "_ostiary_fa" in nas_cookie  # the homelab cookie is still in the browser...
    # ...but the session it came from has ended, so every worker refuses it.
    delay = wait_until(lambda: all(v.check(world.url("nas.homelab.test", "/")).status_code == 302 for _ in range(4)))
    assert delay < 1.0
    # And the central session is gone too: the next visit asks for the password again.
    before = v.sign_ins
    assert v.open(world.url("grafana.acme-corp.test", "/")).reached_app
    assert v.sign_ins == before + 1


def test_a_new_app_is_served_within_a_second(world):
    v = world.signed_in("alice@acme.test")
    url = world.url("metrics.acme-corp.test", "/")
    world_portals = v.portal_for
    world_portals["metrics.acme-corp.test"] = "auth.acme-corp.test"
    assert v.check(url).status_code == 403
    apps.add_app(world.store, world.acme, CLI_ACTOR, name="metrics", url=f"https://metrics.acme-corp.test:{world.port}",
                 all_users=True)
    wait_until(lambda: all(v.check(url).status_code == 200 for _ in range(4)))


def test_post_and_xhr_after_the_session_ended_get_401_with_the_target(world):
    from ostiary.services.rules import sessions

    v = world.signed_in("alice@acme.test")
    url = world.url("grafana.acme-corp.test", "/api/dashboards")
    assert v.check(url, method="POST").status_code == 200
    alice = users.find_user(world.store, world.acme, "alice@acme.test")
    for s in sessions.list_sessions(world.store, world.acme, user_id=alice.id):
        sessions.end_session(world.store, world.acme, s.id, "test: expire", CLI_ACTOR)
    time.sleep(1.0)  # every worker applies the change within a second
    assert v.check(url, method="POST").status_code == 401
    xhr = v.check(url, headers={"X-Requested-With": "XMLHttpRequest"})
    assert xhr.status_code == 401
    rd = parse_qs(urlsplit(xhr.headers["x-ostiary-location"]).query)["rd"]
    assert rd == [url]


def test_health_and_readiness_answer_on_any_host_and_their_details_only_the_operator(world):
    """The visitor reaches the server straight from loopback: the operator's view (docs/operations.md)."""
    v = world.visitor()
    for host in (ACME, "auth.acme-corp.test"):
        assert v.browser.get(world.url(host, "/healthz")).json() == {"status": "ok"}
        ready = v.browser.get(world.url(host, "/readyz"))
        assert ready.status_code == 200 and ready.json()["snapshot_loaded"] is True
        forwarded = v.browser.get(world.url(host, "/readyz"), headers={"X-Forwarded-For": "203.0.113.9"})
        assert forwarded.status_code == 200 and forwarded.json() == {"status": "ready"}
    metrics = v.browser.get(world.url(ACME, "/metrics")).text
    assert "ostiary_checks_total" in metrics
