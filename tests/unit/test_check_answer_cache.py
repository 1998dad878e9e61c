"""The gate's remembered answers (gate/asgi.py, AnswerCache): an answer is
given again only while it is still the answer the full decision gives. Each
change that must refuse a remembered "allowed" (a sign-out, a removed
membership, a revoked grant, a disabled user, the cookie's expiry) is made
and the very next identical check must be refused; and traffic without a
forged cookie never adds an entry, nor can anonymous traffic push out a
signed-in person's answers. A second factor the person now owes refuses too."""

from __future__ import annotations

import time

import pytest

from ostiary.app import create_app
from ostiary.config import Settings
from ostiary.gate.asgi import AnswerCache
from ostiary.services.rules import apps, domains, groups, sessions, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.tokens import CLOCK_LEEWAY, SigningKey, good_until, sign

PORTAL = "auth.acme-corp.test"


class Gate:
    """One worker's application with its snapshot loaded and the follower's poll run by hand."""

    def __init__(self, store, db_url, tmp_path):
        tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery",
                                  CLI_ACTOR)
        self.store = store
        self.tid = tid = tenants.tenant_by_slug(store, "acme").id
        domains.add_domain(store, tid, CLI_ACTOR, "acme-corp.test", PORTAL)
        domains.skip_verification(store, tid, CLI_ACTOR, "acme-corp.test", "unit test without DNS")
        groups.add_group(store, tid, CLI_ACTOR, "staff")
        self.alice = users.add_user(store, tid, CLI_ACTOR, email="alice@acme.test")
        groups.add_member(store, tid, CLI_ACTOR, "staff", "alice@acme.test")
        apps.add_app(store, tid, CLI_ACTOR, name="grafana", url="https://grafana.acme-corp.test",
                     groups_granted=["staff"], public_paths=["/static/*"])
        from ostiary.services.rules import keys
        keys.ensure_signing_key(store)
        self.app = create_app(Settings(database_url=db_url, data_dir=tmp_path))
        self.app.holder.load()
        self.check = self.app.check
        self.now = time.time()
        self.check.clock = lambda: self.now

    def cookie(self, ttl: float = 600) -> tuple[str, str]:
        session = sessions.create_session(self.store, self.tid, self.alice.id)
        snap = self.app.holder.snapshot
        domain = snap.portal_hosts[PORTAL]
        value = sign("fa", {"tn": self.tid, "d": domain.id, "s": session.id, "u": self.alice.id, "mf": False,
                            "exp": self.now + ttl}, snap.signing_key, now=self.now)
        return session.id, value

    def ask(self, cookie: str | None, uri: str = "/", extra: tuple = ()) -> int:
        headers = [*extra, (b"host", PORTAL.encode()), (b"x-forwarded-proto", b"https"),
                   (b"x-forwarded-host", b"grafana.acme-corp.test"), (b"x-forwarded-uri", uri.encode()),
                   (b"x-forwarded-method", b"GET"), (b"accept", b"text/html")]
        if cookie is not None:
            headers.append((b"cookie", f"_ostiary_fa={cookie}".encode()))
        scope = {"type": "http", "path": "/forward-auth/check", "query_string": b"", "headers": headers}
        outcome, start, body, _ = self.check.answer(scope)
        return start["status"]

    def poll(self) -> None:
        assert self.app.holder.poll_once() >= 1

    def close(self) -> None:
        self.app.store.dispose()


@pytest.fixture
def gate(store, db_url, tmp_path):
    g = Gate(store, db_url, tmp_path)
    yield g
    g.close()


def test_an_allowed_answer_is_remembered_and_given_again(gate):
    _, cookie = gate.cookie()
    assert gate.ask(cookie) == 200
    assert len(gate.check.answers) == 1
    assert [gate.ask(cookie) for _ in range(5)] == [200] * 5
    assert len(gate.check.answers) == 1


def test_a_sign_out_refuses_the_next_identical_check(gate):
    session_id, cookie = gate.cookie()
    assert gate.ask(cookie) == 200 and gate.ask(cookie) == 200
    sessions.end_session(gate.store, gate.tid, session_id, "signed out", CLI_ACTOR)
    assert gate.ask(cookie) == 200  # not applied yet: the follower has not polled
    gate.poll()
    assert gate.ask(cookie) == 302


def test_a_removed_membership_and_a_revoked_grant_refuse_the_next_check(gate):
    _, cookie = gate.cookie()
    assert gate.ask(cookie) == 200 and gate.ask(cookie) == 200
    groups.remove_member(gate.store, gate.tid, CLI_ACTOR, "staff", "alice@acme.test")
    gate.poll()
    assert gate.ask(cookie) == 403
    groups.add_member(gate.store, gate.tid, CLI_ACTOR, "staff", "alice@acme.test")
    gate.poll()
    assert gate.ask(cookie) == 200 and gate.ask(cookie) == 200
    apps.revoke(gate.store, gate.tid, CLI_ACTOR, "grafana", "staff")
    gate.poll()
    assert gate.ask(cookie) == 403


def test_a_disabled_user_is_refused_at_the_next_check(gate):
    _, cookie = gate.cookie()
    assert gate.ask(cookie) == 200 and gate.ask(cookie) == 200
    users.set_active(gate.store, gate.tid, CLI_ACTOR, "alice@acme.test", False)
    gate.poll()
    assert gate.ask(cookie) == 302


def test_a_second_factor_now_owed_refuses_the_next_check(gate):
    """A cookie that did not pass a second factor ("mf" false), remembered as allowed: raising
    the tenant's policy, or the person setting one up elsewhere, refuses the next identical check."""
    from ostiary.services.rules import second_factor

    _, cookie = gate.cookie()
    assert gate.ask(cookie) == 200 and gate.ask(cookie) == 200
    tenants.set_second_factor_policy(gate.store, gate.tid, CLI_ACTOR, "everyone")
    gate.poll()
    assert gate.ask(cookie) == 302
    tenants.set_second_factor_policy(gate.store, gate.tid, CLI_ACTOR, "admins")
    gate.poll()
    assert gate.ask(cookie) == 200 and gate.ask(cookie) == 200
    users.set_admin(gate.store, gate.tid, CLI_ACTOR, "alice@acme.test", True)
    gate.poll()
    assert gate.ask(cookie) == 302
    users.set_admin(gate.store, gate.tid, CLI_ACTOR, "alice@acme.test", False)
    gate.poll()
    assert gate.ask(cookie) == 200 and gate.ask(cookie) == 200
    second_factor.enrol(gate.store, gate.tid, gate.alice.id, CLI_ACTOR, second_factor.new_secret(), None)
    gate.poll()
    assert gate.ask(cookie) == 302
    second_factor.reset_all(gate.store, gate.tid, gate.alice.id, CLI_ACTOR)
    gate.poll()
    assert gate.ask(cookie) == 200


def test_a_remembered_answer_ends_when_its_cookie_expires(gate):
    _, cookie = gate.cookie(ttl=60)
    assert gate.ask(cookie) == 200 and gate.ask(cookie) == 200
    gate.now += 60 + CLOCK_LEEWAY - 0.001
    assert gate.ask(cookie) == 200
    gate.now += 0.002
    assert gate.ask(cookie) == 302


def test_a_remembered_answer_ends_when_its_key_retires():
    key = SigningKey("k1", b"s" * 32, retire_at=1000.0)
    assert good_until("b.k1.m", {"exp": 5000}, {"k1": key}) == 1000.0
    assert good_until("b.k1.m", {"exp": 500}, {"k1": key}) == 500 + CLOCK_LEEWAY
    assert good_until("b.k1.m", {"exp": 500}, {"k1": SigningKey("k1", b"s" * 32, None)}) == 500 + CLOCK_LEEWAY


def test_a_forged_cookie_is_never_remembered_and_anonymous_floods_push_out_no_signed_in_answer(gate):
    _, cookie = gate.cookie()
    assert gate.ask(cookie) == 200
    forged = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    for i in range(3000):
        assert gate.ask(forged, f"/page/{i}") == 302
    assert len(gate.check.answers._anonymous) == 0  # a cookie that does not verify: decided every time
    for i in range(3000):
        assert gate.ask(None, f"/page/{i}") == 302
        assert gate.ask(None, f"/static/{i}.js") == 200
    answers = gate.check.answers
    assert len(answers._anonymous) <= answers.MAX_ANONYMOUS
    assert len(answers._answers) == 1  # the signed-in answer is still there


def test_remembered_refusals_and_public_answers_follow_the_snapshot(gate):
    assert gate.ask(None) == 302 and gate.ask(None) == 302
    assert gate.ask(None, "/static/app.js") == 200 and gate.ask(None, "/static/app.js") == 200
    apps.update_app(gate.store, gate.tid, CLI_ACTOR, "grafana", public_paths=[])
    gate.poll()
    assert gate.ask(None, "/static/app.js") == 302
    apps.update_app(gate.store, gate.tid, CLI_ACTOR, "grafana", all_users=True)
    gate.poll()
    _, cookie = gate.cookie()
    groups.remove_member(gate.store, gate.tid, CLI_ACTOR, "staff", "alice@acme.test")
    gate.poll()
    assert gate.ask(cookie) == 200  # granted to all users now


def test_an_unknown_host_is_refused_until_its_app_exists(gate):
    def ask_wiki():
        headers = [(b"host", PORTAL.encode()), (b"x-forwarded-proto", b"https"),
                   (b"x-forwarded-host", b"wiki.acme-corp.test"), (b"x-forwarded-uri", b"/static/a.css")]
        scope = {"type": "http", "path": "/forward-auth/check", "query_string": b"", "headers": headers}
        return gate.check.answer(scope)[1]["status"]

    assert ask_wiki() == 403 and ask_wiki() == 403
    apps.add_app(gate.store, gate.tid, CLI_ACTOR, name="wiki", url="https://wiki.acme-corp.test",
                 groups_granted=[], public_paths=["/static/*"])
    gate.poll()
    assert ask_wiki() == 200


def test_two_cookies_are_never_remembered(gate):
    _, cookie = gate.cookie()
    _, other = gate.cookie()
    headers_cookie = f"{cookie}; _ostiary_fa={other}"
    assert gate.ask(headers_cookie) == 200
    assert len(gate.check.answers) == 0


def test_the_cache_is_bounded(gate):
    _, cookie = gate.cookie()
    gate.check.answers.MAX_ENTRIES = 16
    for i in range(100):
        assert gate.ask(cookie, f"/page/{i}") == 200
        assert len(gate.check.answers) <= 16
    assert gate.ask(cookie, "/" + "x" * AnswerCache.MAX_KEY_BYTES) == 200  # too long a key: not kept
    assert all(len(k[2][3][1]) < AnswerCache.MAX_KEY_BYTES for k in gate.check.answers._answers)
    assert gate.ask(None, "/" + "x" * AnswerCache.MAX_KEY_BYTES) == 302
    assert not gate.check.answers._anonymous


def test_an_answer_decided_while_a_change_is_applied_is_not_kept(gate):
    _, cookie = gate.cookie()
    snap = gate.app.holder.snapshot
    cache = gate.check.answers
    key = ("/forward-auth/check", b"", ())
    assert cache.get(snap, key, gate.now) is None
    snap.generation += 1  # the follower applied a change after the lookup, before the answer was kept
    cache.put(snap, key, (gate.now + 60, "allowed", {}, {}), signed_in=True)
    assert len(cache) == 0


def test_headers_the_check_does_not_read_share_the_answer_and_its_end(gate):
    """An answer is kept under the whole headers too (looked up first); a request that differs
    only in headers /check does not read gets the same answer and adds its own whole-headers key,
    and a sign-out refuses every one of them at the next check."""
    session_id, cookie = gate.cookie()
    ua = [(b"user-agent", f"browser/{i}".encode()) for i in range(3)]
    assert gate.ask(cookie, extra=ua[:1]) == 200
    assert len(gate.check.answers) == 2  # by the read headers and by all of them
    assert gate.ask(cookie, extra=ua[1:2]) == 200  # found by the read headers: its whole key is added
    assert len(gate.check.answers) == 3
    assert gate.ask(cookie, extra=ua[1:2]) == 200 and len(gate.check.answers) == 3
    assert gate.ask(cookie) == 200 and len(gate.check.answers) == 3  # the read headers alone: the same key
    sessions.end_session(gate.store, gate.tid, session_id, "signed out", CLI_ACTOR)
    gate.poll()
    assert [gate.ask(cookie, extra=h) for h in ([], ua[:1], ua[1:2], ua[2:])] == [302] * 4


def test_a_read_header_that_differs_is_never_answered_from_another_request(gate):
    """Whole-headers keys cannot stand in for another request: the same other headers without
    the cookie, or with another one, are decided on their own."""
    _, cookie = gate.cookie()
    extra = [(b"user-agent", b"browser/1")]
    assert gate.ask(cookie, extra=extra) == 200
    assert gate.ask(None, extra=extra) == 302
    assert gate.ask(cookie[:-2] + "xx", extra=extra) == 302
