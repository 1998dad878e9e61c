"""Every session records how the person signed in (RFC 8176 `amr` values and
when), whatever the method: the one interface all sign-in methods end in."""

from __future__ import annotations

import time

import pytest

from ostiary.identity.method import FEDERATED, PASSWORD, Proven, amr_values, decode_methods
from ostiary.services.rules import second_factor, sessions, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store.tables import sessions as sessions_table
from tests.security.conftest import sec  # noqa: F401  (the real-server world)
from tests.security.conftest import sign_in_attempt


@pytest.fixture
def acme(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery", CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    user = users.add_user(store, tid, CLI_ACTOR, email="alice@acme.test")
    return tid, user.id


def _methods(store, session_id: str) -> list[dict]:
    with store.read() as conn:
        text = conn.execute(sessions_table.select().where(sessions_table.c.id == session_id)).first().methods
    return decode_methods(text)


def test_a_session_records_its_method_the_provider_and_when(store, acme):
    tid, uid = acme
    before = time.time()
    new = sessions.create_session(store, tid, uid, method=FEDERATED, via="google")
    [entry] = _methods(store, new.id)
    assert entry["amr"] == "fed" and entry["via"] == "google" and before - 1 <= entry["at"] <= time.time() + 1
    assert sessions.session_for_token(store, new.token, tid).methods == ("fed",)


def test_passing_the_second_factor_adds_otp_to_the_sessions_methods(store, acme):
    tid, uid = acme
    new = sessions.create_session(store, tid, uid, method=PASSWORD)
    second_factor.mark_session(store, tid, new.id, CLI_ACTOR)
    assert [e["amr"] for e in _methods(store, new.id)] == ["pwd", "otp"]
    live = sessions.session_for_token(store, new.token, tid)
    assert live.second_factor and live.methods == ("pwd", "otp")


def test_an_unknown_method_name_is_refused_rather_than_recorded(store, acme):
    tid, uid = acme
    with pytest.raises(ValueError):
        sessions.create_session(store, tid, uid, method="password")
    with pytest.raises(ValueError):
        Proven(uid, "magic")


def test_sessions_from_before_methods_were_recorded_read_as_none():
    assert amr_values(None) == [] and amr_values("[]") == [] and amr_values("not json") == []


def test_a_password_sign_in_through_the_real_portal_records_pwd(sec):  # noqa: F811
    with sec.client() as client:
        r = sign_in_attempt(client, sec, "dave@acme.test", "correct horse battery")
        assert r.status_code == 303, r.text
    carol = users.get_user(sec.store, sec.acme, "dave@acme.test")
    newest = sessions.list_sessions(sec.store, sec.acme, carol.id)[0]
    assert amr_values(newest.methods) == ["pwd"]


def test_sessions_say_for_people_how_they_were_signed_in():
    from ostiary.identity.method import describe, encode_methods, method_entry

    assert describe(encode_methods([method_entry("pwd"), method_entry("otp"), method_entry("otp")])) == \
        "password + one-time code"
    assert describe(encode_methods([method_entry("fed", "gitlab")])) == "gitlab"
    assert describe(encode_methods([method_entry("pwd", "corp")])) == "directory corp"
    assert describe(None) == "" and describe("not json") == ""
