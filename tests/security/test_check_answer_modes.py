"""/forward-auth/check as each kind of proxy asks it: the not-signed-in answer
mode from the proxy registry, the portal host named in the path (Traefik),
every identity header always answered (stale snippets), and a log line that
says why a check without the forwarded request was refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ostiary.services.rules import apps
from ostiary.services.base.actor import CLI_ACTOR
from tests.security.conftest import check_headers

PORTAL = "auth.acme-corp.test"
IDENTITY = ("x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-display-name")


def _navigation(sec):
    return check_headers(sec, "grafana.acme-corp.test", "/d/x")


def _xhr(sec):
    return {**_navigation(sec), "Accept": "application/json", "Sec-Fetch-Mode": "cors"}


@pytest.mark.parametrize("query", ["?not-signed-in=401", "?proxy=nginx"])
def test_a_status_401_proxy_gets_401_with_the_location_and_a_redirect_flag_for_page_navigations(sec, query):
    client = sec.client()
    page = sec.check(client, PORTAL, _navigation(sec), query)
    assert page.status_code == 401
    assert page.headers["x-ostiary-location"].startswith(f"https://{PORTAL}:{sec.port}/forward-auth/start?rd=")
    assert page.headers["x-ostiary-navigation"] == "1"
    xhr = sec.check(client, PORTAL, _xhr(sec), query)
    assert xhr.status_code == 401 and "x-ostiary-navigation" not in xhr.headers
    assert xhr.headers["x-ostiary-location"] == page.headers["x-ostiary-location"]


@pytest.mark.parametrize("query", ["", "?proxy=haproxy", "?proxy=caddy", "?not-signed-in=redirect"])
def test_a_redirect_proxy_gets_302_for_page_navigations_and_401_for_xhr(sec, query):
    client = sec.client()
    page = sec.check(client, PORTAL, _navigation(sec), query)
    assert page.status_code == 302 and "x-ostiary-navigation" not in page.headers
    assert sec.check(client, PORTAL, _xhr(sec), query).status_code == 401


def test_a_check_path_naming_the_portal_host_stands_in_for_the_host_header(sec, alice_cookie):
    client = sec.client()
    headers = {**_navigation(sec), "Cookie": f"_ostiary_fa={alice_cookie}"}
    # Traefik's forwardAuth cannot set Host: it reaches Ostiary by another name.
    named = client.get(sec.url("localhost", f"/forward-auth/check/{PORTAL}"), headers=headers)
    assert named.status_code == 200, named.text
    assert named.headers["x-forwarded-user"] == "alice"
    assert client.get(sec.url("localhost", "/forward-auth/check"), headers=headers).status_code == 403


def test_a_check_path_cannot_name_a_portal_host_of_another_domain_to_enter_an_app(sec, alice_cookie):
    client = sec.client()
    headers = {**_navigation(sec), "Cookie": f"_ostiary_fa={alice_cookie}"}
    assert client.get(sec.url(PORTAL, "/forward-auth/check/login.homelab.test"), headers=headers).status_code == 403


@pytest.fixture(scope="module")
def narrowed_app(sec):
    """An app that enables only the user header, as after narrowing it in Ostiary."""
    apps.add_app(sec.store, sec.acme, CLI_ACTOR, name="narrow", url=f"https://narrow.acme-corp.test:{sec.port}",
                 headers=["user"], all_users=True)
    return "narrow.acme-corp.test"


def test_check_answers_every_identity_header_empty_when_the_app_does_not_enable_it(sec, alice_cookie, narrowed_app):
    client = sec.client()
    headers = {**check_headers(sec, narrowed_app, "/"), "Cookie": f"_ostiary_fa={alice_cookie}"}
    deadline = time.monotonic() + 10
    while (answer := sec.check(client, PORTAL, headers)).status_code != 200:  # the app reaches the snapshot
        assert time.monotonic() < deadline, answer.status_code
        time.sleep(0.1)
    # A snippet pasted while the app sent all four still copies all four: each must be
    # defined (Caddy 2.6 would otherwise pass its own placeholder text to the app).
    assert [answer.headers.get(name) for name in IDENTITY] == ["alice", "", "", ""]


def test_check_answers_every_identity_header_empty_on_a_public_path(sec):
    client = sec.client()
    answer = sec.check(client, PORTAL, check_headers(sec, "grafana.acme-corp.test", "/health"))
    assert answer.status_code == 200
    assert [answer.headers.get(name) for name in IDENTITY] == ["", "", "", ""]


def test_a_check_without_the_forwarded_request_is_refused_and_logged_with_the_reason(sec):
    log = Path(sec.store.engine.url.database).parent / "front.log"
    headers = {k: v for k, v in _navigation(sec).items() if k != "X-Forwarded-Uri"}
    assert sec.check(sec.client(), PORTAL, headers).status_code == 403
    deadline = time.monotonic() + 5
    while "X-Forwarded-Uri" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "no log line says the check lacked X-Forwarded-Uri"
        time.sleep(0.1)
