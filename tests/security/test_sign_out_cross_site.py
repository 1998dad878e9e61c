"""Attack: signing someone out from another site. `GET /forward-auth/sign-out`
used to end the central session on any navigation (a link, an image, a
redirect); now a GET only shows a page with a button, and the button's
CSRF-protected POST signs out everywhere, then honours a safe `rd`
(issue 13 item 6, SECURITY.md promise 10)."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from sqlalchemy import select

from ostiary.services.rules import users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules.sessions import hash_token
from ostiary.store.tables import sessions
from ostiary.wire import CSRF_COOKIE, SESSION_COOKIE
from tests.security.conftest import CSRF_VALUE, PASSWORD
from tests.security.test_open_redirect import CORPUS
from tests.security.test_portal_hardening import CROSS_SITE

PORTAL = "auth.acme-corp.test"
TOOLS = "tools.acme-corp.test"  # open to every user


def _live_sessions(sec, user_id: int) -> int:
    with sec.store.read() as conn:
        return len(conn.execute(select(sessions.c.id).where(sessions.c.user_id == user_id,
                                                            sessions.c.ended_at.is_(None))).all())


def _new_user(sec, name: str) -> tuple[str, int]:
    row = users.add_user(sec.store, sec.acme, CLI_ACTOR, email=f"{name}-{time.time_ns()}@acme.test", password=PASSWORD)
    return row.email, row.id


def _browser_session_ended(sec, v) -> bool:
    token = v.browser.cookies.get(SESSION_COOKIE)
    with sec.store.read() as conn:
        ended = conn.execute(select(sessions.c.ended_at).where(sessions.c.token_hash == hash_token(token))).scalar()
    return ended is not None


def test_a_cross_site_link_to_sign_out_does_not_sign_anyone_out(sec):
    email, user_id = _new_user(sec, "carol")
    v = sec.signed_in(email, TOOLS)
    live = _live_sessions(sec, user_id)
    rd = sec.url(TOOLS, "/")
    # What an <img src> or a link on another site makes the browser send.
    r = v.browser.get(sec.url(PORTAL, "/forward-auth/sign-out?rd=" + quote(rd, safe="")),
                      headers={"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.test/"})
    assert r.status_code == 200 and "location" not in r.headers
    assert "Sign out everywhere" in r.text and 'method="post"' in r.text
    assert not any(c.startswith("_ostiary_fa=") for c in r.headers.get_list("set-cookie"))
    assert _live_sessions(sec, user_id) == live
    assert v.check(sec.url(TOOLS, "/")).status_code == 200


@pytest.mark.parametrize("case", CROSS_SITE.keys())
def test_a_cross_site_post_to_sign_out_is_refused(sec, case):
    email, user_id = _new_user(sec, "dave")
    v = sec.signed_in(email, TOOLS)
    live = _live_sessions(sec, user_id)
    spec = CROSS_SITE[case]
    headers = {k: value.format(acme=f"{PORTAL}:{sec.port}") for k, value in spec.items()
               if k not in ("cookie", "token")}
    cookie = v.cookies_for(sec.url(PORTAL, "/"))
    if spec.get("cookie"):
        cookie += f"; {CSRF_COOKIE}={CSRF_VALUE}"
    r = sec.client().post(sec.url(PORTAL, "/forward-auth/sign-out"),
                          data={"csrf": spec.get("token", CSRF_VALUE), "rd": sec.url(TOOLS, "/")},
                          headers={**headers, "Cookie": cookie})
    assert r.status_code == 403 and "location" not in r.headers
    assert _live_sessions(sec, user_id) == live


def test_the_sign_out_button_signs_out_everywhere_then_returns_to_a_safe_rd(sec):
    email, _ = _new_user(sec, "erin")
    v = sec.signed_in(email, TOOLS)
    rd = sec.url(TOOLS, "/after")
    r = v.sign_out(PORTAL, rd=rd)
    assert r.status_code == 303 and r.headers["location"] == rd
    assert _browser_session_ended(sec, v)
    # Every app of every domain now asks for the password again.
    assert v.check(sec.url(TOOLS, "/")).status_code == 302
    assert v.open(sec.url(TOOLS, "/")).reached_app and v.sign_ins == 2


@pytest.mark.parametrize("rd", CORPUS.values(), ids=CORPUS.keys())
def test_the_sign_out_button_never_redirects_to_a_refused_rd(sec, rd):
    rd = rd.format(port=sec.port)
    client = sec.client()
    origin = f"https://{PORTAL}:{sec.port}"
    r = client.post(origin + "/forward-auth/sign-out", data={"csrf": CSRF_VALUE, "rd": rd},
                    headers={"Origin": origin, "Sec-Fetch-Site": "same-origin",
                             "Cookie": f"{CSRF_COOKIE}={CSRF_VALUE}"})
    assert "location" not in r.headers
    if "\x00" in rd:  # refused by the input guard before sign-out (docs/api.md#input-rules)
        assert r.status_code == 400 and "cannot be stored" in r.text
        return
    assert r.status_code == 200, (rd, r.status_code)
    assert "signed out" in r.text.lower()
