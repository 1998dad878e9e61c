"""The rules behind the second factor, on SQLite and PostgreSQL: the
tenant's policy decides whose sessions owe one, a passkey counts as one,
an administrator's reset removes every factor in one audited step and
announces it to whatever notifier is registered, and the CLI says all of it
(docs/sign-in.md)."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from ostiary.cli import main as cli
from ostiary.services.base import notifications
from ostiary.services.rules import second_factor, sessions, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput
from ostiary.store import TenantScope
from ostiary.store.tables import audit_log, recovery_codes, webauthn_credentials

PASSWORD = "correct horse battery"


@pytest.fixture
def acme(store):
    result = tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    users.add_user(store, result.tenant.id, CLI_ACTOR, email="pat@acme.test", password=PASSWORD)
    return result.tenant.id


def _user(store, tid, email):
    return users.get_user(store, tid, email)


def _due(store, tid, email) -> bool:
    new = sessions.create_session(store, tid, _user(store, tid, email).id, method="pwd")
    return sessions.session_for_token(store, new.token, tid).second_factor_due


def _add_passkey_row(store, tid, user_id, name="Key"):
    with store.write() as conn:
        TenantScope(conn, tid).insert(
            webauthn_credentials, user_id=user_id, credential_id=f"cred-{name}-{user_id}", public_key="pk",
            sign_count=0, name=name, transports="", aaguid="", backed_up=False, created_at=time.time())


@pytest.mark.parametrize("policy, admin_due, person_due", [
    ("off", False, False), ("admins", True, False), ("everyone", True, True)])
def test_the_policy_decides_whose_sessions_owe_a_second_factor(store, acme, policy, admin_due, person_due):
    tenants.set_second_factor_policy(store, acme, CLI_ACTOR, policy)
    assert tenants.second_factor_policy(store, acme) == policy
    assert _due(store, acme, "admin@acme.test") is admin_due
    assert _due(store, acme, "pat@acme.test") is person_due


def test_a_passkey_is_a_second_factor_even_with_the_policy_off(store, acme):
    pat = _user(store, acme, "pat@acme.test")
    _add_passkey_row(store, acme, pat.id)
    new = sessions.create_session(store, acme, pat.id, method="pwd")
    live = sessions.session_for_token(store, new.token, acme)
    assert live.enrolled and live.second_factor_due and not live.complete
    # A session that passed one (a passkey that verified the person) owes nothing.
    passed = sessions.create_session(store, acme, pat.id, method="hwk", second_factor=True, also=("mfa",))
    live = sessions.session_for_token(store, passed.token, acme)
    assert live.complete and live.methods == ("hwk", "mfa")


def test_an_unknown_policy_is_refused_naming_the_field_and_the_choices(store, acme):
    with pytest.raises(InvalidInput) as caught:
        tenants.set_second_factor_policy(store, acme, CLI_ACTOR, "sometimes")
    assert caught.value.problems[0].field == "second_factor_policy"
    assert "off, admins, everyone" in caught.value.problems[0].message
    assert tenants.second_factor_policy(store, acme) == "off"


def test_an_admins_reset_removes_every_factor_audits_it_and_tells_the_notifier(store, acme):
    pat = _user(store, acme, "pat@acme.test")
    second_factor.enrol(store, acme, pat.id, CLI_ACTOR, second_factor.new_secret(), None)
    _add_passkey_row(store, acme, pat.id, "One")
    _add_passkey_row(store, acme, pat.id, "Two")
    told = []

    def sender(store_, tenant_id, user_id, event, detail):
        told.append((tenant_id, user_id, event, detail))

    notifications.register_sender(sender)
    try:
        done = second_factor.reset_all(store, acme, pat.id, CLI_ACTOR)
    finally:
        notifications.unregister_sender(sender)
    assert done == {"totp": True, "recovery_codes": 10, "passkeys": 2}
    assert told == [(acme, pat.id, notifications.SECOND_FACTORS_RESET, {"by": "cli", **done})]
    with store.read() as conn:
        scope = TenantScope(conn, acme)
        assert scope.count(webauthn_credentials, webauthn_credentials.c.user_id == pat.id) == 0
        assert scope.count(recovery_codes, recovery_codes.c.user_id == pat.id) == 0
        actions = [r.action for r in scope.rows(audit_log, audit_log.c.entity_id == str(pat.id))]
    assert "user.second_factor_reset" in actions
    assert not second_factor.is_enrolled(_user(store, acme, "pat@acme.test"))


def test_a_notifier_that_fails_never_undoes_the_reset(store, acme):
    pat = _user(store, acme, "pat@acme.test")
    _add_passkey_row(store, acme, pat.id)

    def broken(*args):
        raise OSError("smtp down")

    notifications.register_sender(broken)
    try:
        assert second_factor.reset_all(store, acme, pat.id, CLI_ACTOR)["passkeys"] == 1
    finally:
        notifications.unregister_sender(broken)
    with store.read() as conn:
        assert TenantScope(conn, acme).count(webauthn_credentials) == 0


def test_with_no_notifier_registered_nothing_is_sent_and_nothing_fails(store, acme):
    pat = _user(store, acme, "pat@acme.test")
    assert notifications._senders == []
    assert second_factor.reset_all(store, acme, pat.id, CLI_ACTOR)["totp"] is False


def test_the_cli_sets_the_policy_and_shows_and_resets_second_factors(store, acme):
    env = {"OSTIARY_DATABASE_URL": store.url}
    run = CliRunner().invoke
    r = run(cli, ["tenant", "second-factor", "admins", "--tenant", "acme"], env=env)
    assert r.exit_code == 0, r.output
    assert tenants.second_factor_policy(store, acme) == "admins"
    r = run(cli, ["tenant", "second-factor", "sometimes", "--tenant", "acme"], env=env)
    assert r.exit_code != 0 and "sometimes" in r.output
    pat = _user(store, acme, "pat@acme.test")
    _add_passkey_row(store, acme, pat.id, "Desk key")
    r = run(cli, ["user", "second-factor", "status", "pat@acme.test", "--tenant", "acme"], env=env)
    assert "TOTP off, 0 recovery codes left, 1 passkey(s)" in r.output and "Desk key" in r.output
    # `user totp reset` resets passkeys too now: a lost phone is a lost phone.
    r = run(cli, ["user", "totp", "reset", "pat@acme.test", "--tenant", "acme"], env=env)
    assert r.exit_code == 0 and "1 passkey(s) removed" in r.output
    _add_passkey_row(store, acme, pat.id, "Again")
    r = run(cli, ["user", "second-factor", "reset", "pat@acme.test", "--tenant", "acme"], env=env)
    assert r.exit_code == 0 and "1 passkey(s) removed" in r.output
    with store.read() as conn:
        assert TenantScope(conn, acme).count(webauthn_credentials) == 0
