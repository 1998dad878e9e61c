"""Notices after a change come from the server: a cookie Ostiary signed for
this browser's session, shown once. A `?notice=` anyone can put in a link
shows nothing, and a notice cookie altered, forged or carried over from
another session is ignored."""

from __future__ import annotations

import base64
import re

from tests.pages.conftest import form_csrf, signed_in_client
from ostiary.portal.notices import NOTICE_COOKIE


def _create_group(client, world, name: str):
    page = client.get(world.url("/admin/groups"))
    return client.post(world.url("/admin/groups"), data={"csrf": form_csrf(page.text), "name": name})


def test_a_notice_in_the_query_string_is_never_shown(world):
    with signed_in_client(world) as client:
        page = client.get(world.url("/admin/users"), params={"notice": "Your password expired: call +1 555 0100"})
    assert page.status_code == 200
    assert "555 0100" not in page.text and 'class="notice"' not in page.text


def test_a_change_redirects_without_a_query_string_and_its_notice_shows_once(world):
    with signed_in_client(world) as client:
        answer = _create_group(client, world, "noticed")
        assert answer.status_code == 303
        assert "?" not in answer.headers["location"]
        assert NOTICE_COOKIE in answer.headers["set-cookie"]
        first = client.get(world.url(answer.headers["location"]))
        assert "Group noticed created." in first.text
        again = client.get(world.url(answer.headers["location"]))
        assert "Group noticed created." not in again.text


def test_an_altered_or_foreign_notice_cookie_is_ignored(world):
    with signed_in_client(world) as mallory, signed_in_client(world) as victim:
        answer = _create_group(mallory, world, "pay-here")
        value = answer.cookies[NOTICE_COOKIE]
        kid, text, mac = value.split(".")
        forged = base64.urlsafe_b64encode(b"Send your password to mallory@evil.test").decode().rstrip("=")
        for cookie in (f"{kid}.{forged}.{mac}", value, f"nokey.{text}.{mac}", "garbage"):
            victim.cookies.set(NOTICE_COOKIE, cookie, domain=answer.url.host)
            page = victim.get(world.url("/admin/groups"))
            assert 'class="notice"' not in page.text, cookie
            assert NOTICE_COOKIE in page.headers.get("set-cookie", ""), "the cookie reached the server and was dropped"
        # The same cookie in the browser it was made for is shown.
        assert "Group pay-here created." in mallory.get(world.url("/admin/groups")).text


def test_the_account_page_ignores_a_notice_in_the_query_string(world):
    with signed_in_client(world) as client:
        page = client.get(world.url("/account"), params={"notice": "Your password expired: call +1 555 0100"})
    assert page.status_code == 200
    assert "555 0100" not in page.text and 'class="notice"' not in page.text


def test_ending_a_session_on_the_account_page_says_so_from_the_server(world):
    with signed_in_client(world) as other, signed_in_client(world) as client:
        assert other.get(world.url("/account")).status_code == 200
        page = client.get(world.url("/account"))
        ends = [m for m in re.findall(r'action="(/account/sessions/[^"/]+/end)"', page.text)]
        assert ends, "the other session is listed with a sign-out button"
        answer = client.post(world.url(ends[0]), data={"csrf": form_csrf(page.text)})
        assert answer.status_code == 303 and answer.headers["location"] == "/account"
        first = client.get(world.url("/account"))
        assert "Session ended." in first.text
        assert "Session ended." not in client.get(world.url("/account")).text


def test_a_password_change_notice_shows_with_the_fresh_session(world):
    from tests.pages.conftest import PASSWORD

    with signed_in_client(world, "carol@acme.test") as client:
        page = client.get(world.url("/account"))
        new = "another-long-passphrase-42"
        answer = client.post(world.url("/account/password"), data={
            "csrf": form_csrf(page.text), "current_password": PASSWORD, "new_password": new,
            "new_password_again": new})
        assert answer.status_code == 303 and answer.headers["location"] == "/account", answer.text
        assert "every other session has ended" in client.get(world.url("/account")).text
