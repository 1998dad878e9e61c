"""A person created a moment ago (a first sign-in through a provider, an
invitation just accepted) whose handshake one worker answered, checked by a
worker whose snapshot has not followed the change yet: the check waits for
the follower (at most the one-second propagation bound, without blocking the
worker) instead of sending the browser round the handshake until the change
arrives. Only a fresh cookie of an unknown person waits; nothing else does."""

from __future__ import annotations

import asyncio

import pytest

from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules import groups, sessions, users
from ostiary.tokens import FORWARD_AUTH, sign
from tests.unit.test_check_answer_cache import PORTAL, Gate


@pytest.fixture
def gate(store, db_url, tmp_path):
    g = Gate(store, db_url, tmp_path)
    yield g
    g.close()


def _newcomer_cookie(gate: Gate, iat_age: float = 0.0) -> str:
    """A forward-auth cookie for a user created after this worker's snapshot was loaded."""
    row = users.add_user(gate.store, gate.tid, CLI_ACTOR, email="newbie@acme.test")
    groups.add_member(gate.store, gate.tid, CLI_ACTOR, "staff", "newbie@acme.test")
    session = sessions.create_session(gate.store, gate.tid, row.id)
    snap = gate.app.holder.snapshot
    assert row.id not in snap.users  # the worker has not followed the change yet
    return sign(FORWARD_AUTH, {"tn": gate.tid, "d": snap.portal_hosts[PORTAL].id, "s": session.id, "u": row.id,
                               "mf": False, "exp": gate.now + 600}, snap.signing_key, now=gate.now - iat_age)


def _scope(cookie: str) -> dict:
    headers = [(b"host", PORTAL.encode()), (b"x-forwarded-proto", b"https"),
               (b"x-forwarded-host", b"grafana.acme-corp.test"), (b"x-forwarded-uri", b"/"),
               (b"x-forwarded-method", b"GET"), (b"accept", b"text/html"),
               (b"cookie", f"_ostiary_fa={cookie}".encode())]
    return {"type": "http", "path": "/forward-auth/check", "query_string": b"", "headers": headers}


async def _check(gate: Gate, cookie: str, follow_after: float | None) -> int:
    """Runs one check through the worker's ASGI handler; the follower's poll runs (by hand, in a thread)
    `follow_after` seconds in, or never."""
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def follow():
        await asyncio.sleep(follow_after)
        await asyncio.to_thread(gate.poll)

    follower = asyncio.create_task(follow()) if follow_after is not None else None
    await gate.check(_scope(cookie), None, send)
    if follower is not None:
        await follower
    return sent[0]["status"]


def test_a_fresh_cookie_of_a_person_the_worker_does_not_know_yet_waits_for_the_follower(gate):
    cookie = _newcomer_cookie(gate)
    assert gate.ask(cookie) == 302  # decided alone, before the follower: sent round the handshake
    assert asyncio.run(_check(gate, cookie, follow_after=0.2)) == 200


def test_an_old_cookie_of_an_unknown_person_does_not_wait(gate):
    cookie = _newcomer_cookie(gate, iat_age=60)
    assert not gate.check._newcomer(gate.check.answer(_scope(cookie))[3])
    assert asyncio.run(_check(gate, cookie, follow_after=None)) == 302


def test_a_newcomer_who_never_arrives_is_sent_to_sign_in_after_the_wait(gate):
    cookie = _newcomer_cookie(gate)
    assert gate.check._newcomer(gate.check.answer(_scope(cookie))[3])
    assert asyncio.run(_check(gate, cookie, follow_after=None)) == 302
