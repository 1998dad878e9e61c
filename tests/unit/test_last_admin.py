"""Fault: the last active administrator of a tenant demoted or disabled,
leaving an organisation no one can administer (issue 14 item 5). The rule
lives in the service layer, so the CLI, the API and the admin pages all
refuse it; on SQLite and PostgreSQL, also when two admins demote each other
at the same moment."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner

from ostiary.cli import main
from ostiary.cli.base import ExitCode
from ostiary.services.rules import tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import Conflict

PASSWORD = "correct horse battery"


@pytest.fixture
def acme(store) -> int:
    tenant = tenants.add_tenant(store, "acme", CLI_ACTOR).id
    users.add_user(store, tenant, CLI_ACTOR, email="root@acme.test", password=PASSWORD, is_admin=True)
    users.add_user(store, tenant, CLI_ACTOR, email="bob@acme.test", password=PASSWORD)
    return tenant


def _admin(store, tenant: int, email: str) -> tuple[bool, bool]:
    row = users.get_user(store, tenant, email)
    return bool(row.is_admin), bool(row.active)


def test_the_last_active_admin_cannot_be_demoted_or_disabled(store, acme):
    with pytest.raises(Conflict, match=r'is_admin: "root@acme.test" is the last active administrator'):
        users.set_admin(store, acme, CLI_ACTOR, "root@acme.test", False)
    with pytest.raises(Conflict, match=r'active: "root@acme.test" is the last active administrator'):
        users.set_active(store, acme, CLI_ACTOR, "root@acme.test", False)
    assert _admin(store, acme, "root@acme.test") == (True, True)


def test_a_disabled_admin_does_not_count_as_another_administrator(store, acme):
    users.add_user(store, acme, CLI_ACTOR, email="old@acme.test", password=PASSWORD, is_admin=True)
    users.set_active(store, acme, CLI_ACTOR, "old@acme.test", False)
    with pytest.raises(Conflict):
        users.set_admin(store, acme, CLI_ACTOR, "root@acme.test", False)
    # With another active admin, demoting and disabling are fine; non-admins never count.
    users.set_active(store, acme, CLI_ACTOR, "old@acme.test", True)
    users.set_admin(store, acme, CLI_ACTOR, "root@acme.test", False)
    users.set_active(store, acme, CLI_ACTOR, "bob@acme.test", False)
    assert _admin(store, acme, "root@acme.test") == (False, True)


def test_the_cli_refuses_to_disable_the_last_active_admin(store, db_url, acme, tmp_path):
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    r = CliRunner().invoke(main, ["user", "disable", "root@acme.test", "--tenant", "acme"], env=env)
    assert r.exit_code == ExitCode.CONFLICT
    assert "last active administrator" in r.output and "ostiary user admin EMAIL" in r.output
    r = CliRunner().invoke(main, ["user", "admin", "root@acme.test", "--remove", "--tenant", "acme"], env=env)
    assert r.exit_code == ExitCode.CONFLICT and "last active administrator" in r.output
    assert _admin(store, acme, "root@acme.test") == (True, True)
    # Another admin first (the command the refusal names), then root may step down.
    assert CliRunner().invoke(main, ["user", "admin", "bob@acme.test", "--tenant", "acme"], env=env).exit_code == 0
    r = CliRunner().invoke(main, ["user", "admin", "root@acme.test", "--remove", "--tenant", "acme"], env=env)
    assert r.exit_code == 0 and "no longer an administrator" in r.output


def test_two_admins_demoting_each_other_at_once_leave_one_admin(store, acme):
    users.add_user(store, acme, CLI_ACTOR, email="ann@acme.test", password=PASSWORD, is_admin=True)
    barrier, outcomes = threading.Barrier(2), []

    def demote(email: str) -> None:
        barrier.wait()
        try:
            users.set_admin(store, acme, CLI_ACTOR, email, False)
            outcomes.append("demoted")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=demote, args=(e,)) for e in ("root@acme.test", "ann@acme.test")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert sum(_admin(store, acme, e)[0] for e in ("root@acme.test", "ann@acme.test")) == 1
