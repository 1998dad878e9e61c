"""Editing and deleting users, renaming groups, changing and deleting apps,
and the tenant's session limits from the command line: the same rules as
the API (one service function each), audited, nothing half-written."""

from __future__ import annotations

import pytest

from ostiary.cli.base import ExitCode
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.rules import tenants as tenants_service
from ostiary.services.rules import users as users_service
from ostiary.snapshot.follower import SnapshotHolder
from tests.cli.conftest import row_counts


def _audit_actions(run, action: str) -> list[str]:
    return [e["action"] for e in run("audit", "--action", action, "--json").json()]


# --- users ------------------------------------------------------------------------------

def test_user_edit_changes_what_is_given_and_keeps_sessions(run, store, acme):
    bob = users_service.get_user(store, acme, "bob@acme.test")
    session = sessions_service.create_session(store, acme, bob.id)
    done = run("user", "edit", "bob", "--email", "robert@acme.test", "--name", "Robert")
    assert done.status == 0, done.stderr
    shown = run("user", "show", "robert@acme.test", "--json").json()
    assert (shown["email"], shown["username"], shown["display_name"]) == ("robert@acme.test", "bob", "Robert")
    assert sessions_service.session_for_token(store, session.token, acme) is not None
    assert _audit_actions(run, "user.update") == ["user.update"]


@pytest.mark.parametrize("args,status,field", [
    (("--email", "admin@acme.test"), ExitCode.CONFLICT, "email"),
    (("--email", "ADMIN@acme.test"), ExitCode.CONFLICT, "email"),
    (("--username", "admin"), ExitCode.CONFLICT, "username"),
    (("--username", "has space", "--name", ""), ExitCode.INVALID_INPUT, "username"),
    ((), ExitCode.INVALID_INPUT, "nothing to change"),
])
def test_user_edit_refusals_name_the_field_and_write_nothing(run, store, acme, args, status, field):
    before = row_counts(store)
    done = run("user", "edit", "bob@acme.test", *args)
    assert done.status == status, done.stderr
    assert field in done.stderr and done.stdout == ""
    assert row_counts(store) == before
    assert users_service.get_user(store, acme, "bob@acme.test").display_name == "Bob Builder"


def test_both_bad_values_are_named_at_once(run, acme):
    done = run("user", "edit", "bob@acme.test", "--username", "has space", "--name", "")
    assert done.status == ExitCode.INVALID_INPUT
    assert "username" in done.stderr and "display_name" in done.stderr


def test_user_delete_ends_sessions_and_removes_memberships(run, store, acme):
    bob = users_service.get_user(store, acme, "bob@acme.test")
    session = sessions_service.create_session(store, acme, bob.id)
    holder = SnapshotHolder(store)  # what a running gate holds, kept current through the change log
    holder.load()
    assert bob.id in holder.snapshot.users
    done = run("user", "delete", "bob@acme.test")
    assert done.status == 0, done.stderr
    assert users_service.find_user(store, acme, "bob@acme.test") is None
    assert sessions_service.session_for_token(store, session.token, acme) is None
    assert run("group", "members", "ops", "--json").json() == []
    holder.poll_once()
    assert bob.id not in holder.snapshot.users  # the gate refuses the user's cookies
    assert run("user", "show", "bob@acme.test").status == ExitCode.NOT_FOUND
    assert run("user", "delete", "bob@acme.test").status == ExitCode.NOT_FOUND
    assert _audit_actions(run, "user.delete") == ["user.delete"]


def test_the_last_active_admin_cannot_be_deleted(run, store, acme):
    before = row_counts(store)
    done = run("user", "delete", "admin@acme.test")
    assert done.status == ExitCode.CONFLICT
    assert "last active administrator" in done.stderr
    assert row_counts(store) == before
    assert run("user", "admin", "bob@acme.test").status == 0
    assert run("user", "delete", "admin@acme.test").status == 0


# --- groups -----------------------------------------------------------------------------

def test_group_rename_keeps_members_subgroups_and_grants(run, store, acme):
    holder = SnapshotHolder(store)
    holder.load()
    done = run("group", "rename", "staff", "Employees")
    assert done.status == 0, done.stderr
    shown = run("group", "show", "Employees", "--json").json()
    assert (shown["children"], shown["apps"]) == (["ops"], ["wiki"])
    assert run("app", "show", "wiki", "--json").json()["groups"] == ["Employees"]
    assert run("group", "show", "ops", "--json").json()["path"] == "Employees / ops"
    bob = users_service.get_user(store, acme, "bob@acme.test")
    assert holder.snapshot.users[bob.id].groups_header == "ops,staff"
    holder.poll_once()  # X-Forwarded-Groups carries the new name from the next request on
    assert holder.snapshot.users[bob.id].groups_header == "Employees,ops"
    assert run("group", "show", "staff").status == ExitCode.NOT_FOUND


@pytest.mark.parametrize("new_name,status", [("OPS", ExitCode.CONFLICT), ("a,b", ExitCode.INVALID_INPUT),
                                             ("", ExitCode.INVALID_INPUT)])
def test_group_rename_refusals(run, store, acme, new_name, status):
    before = row_counts(store)
    done = run("group", "rename", "staff", new_name)
    assert done.status == status, done.stderr
    assert "new_name" in done.stderr
    assert row_counts(store) == before


def test_group_members_lists_direct_members(run, acme):
    assert [m["email"] for m in run("group", "members", "ops", "--json").json()] == ["bob@acme.test"]
    assert run("group", "members", "staff", "--json").json() == []
    assert run("group", "members", "nosuch").status == ExitCode.NOT_FOUND


# --- apps -------------------------------------------------------------------------------

def test_app_change_sets_second_factor_paths_headers_and_grants(run, acme):
    done = run("app", "change", "wiki", "--require-2fa", "--public-path", "/static/*", "--public-path", "/health",
               "--headers", "user,groups", "--grant", "ops", "--revoke", "staff")
    assert done.status == 0, done.stderr
    app = run("app", "show", "wiki", "--json").json()
    assert app["require_2fa"] is True and app["public_paths"] == ["/static/*", "/health"]
    assert app["headers"] == ["user", "groups"] and app["groups"] == ["ops"]
    assert run("app", "change", "wiki", "--no-public-paths", "--no-require-2fa", "--all").status == 0
    app = run("app", "show", "wiki", "--json").json()
    assert (app["public_paths"], app["require_2fa"], app["all_users"]) == ([], False, True)
    assert sorted(set(_audit_actions(run, "app."))) == ["app.add", "app.grant", "app.revoke", "app.update"]


@pytest.mark.parametrize("args,status,field", [
    (("--grant", "nosuch", "--require-2fa"), ExitCode.NOT_FOUND, "group"),
    (("--revoke", "ops", "--require-2fa"), ExitCode.NOT_FOUND, "revoke"),
    (("--public-path", "static", "--grant", "ops"), ExitCode.INVALID_INPUT, "public_path"),
    (("--url", "https://wiki.elsewhere.test", "--grant", "ops"), ExitCode.NOT_FOUND, "url"),
    (("--headers", "password",), ExitCode.INVALID_INPUT, "headers"),
    (("--public-path", "/a", "--no-public-paths"), ExitCode.INVALID_INPUT, "public_paths"),
    ((), ExitCode.INVALID_INPUT, "nothing to change"),
])
def test_app_change_refusals_write_nothing(run, store, acme, args, status, field):
    before = row_counts(store)
    done = run("app", "change", "wiki", *args)
    assert done.status == status, done.stderr
    assert field in done.stderr
    assert row_counts(store) == before
    assert run("app", "show", "wiki", "--json").json()["require_2fa"] is False


def test_app_delete(run, acme):
    assert run("app", "delete", "wiki").status == 0
    assert run("app", "list", "--json").json() == []
    assert run("app", "show", "wiki").status == ExitCode.NOT_FOUND
    assert run("app", "delete", "wiki").status == ExitCode.NOT_FOUND
    assert run("group", "show", "staff", "--json").json()["apps"] == []


# --- the tenant's session limits ----------------------------------------------------------

def test_session_limits_are_set_audited_and_apply_to_open_sessions(run, store, acme):
    import time

    bob = users_service.get_user(store, acme, "bob@acme.test")
    session = sessions_service.create_session(store, acme, bob.id)
    with store.write() as conn:  # a session two hours old
        from sqlalchemy import update

        from ostiary.store.tables import sessions

        conn.execute(update(sessions).where(sessions.c.id == session.id).values(created_at=time.time() - 7200))
    done = run("tenant", "session-limits", "--idle", "30m", "--absolute", "1h")
    assert done.status == 0, done.stderr
    row = tenants_service.tenant_by_slug(store, "acme")
    assert (row.session_idle_seconds, row.session_absolute_seconds) == (1800, 3600)
    shown = run("tenant", "show", "--json").json()
    assert (shown["session_idle_seconds"], shown["session_absolute_seconds"]) == (1800, 3600)
    assert sessions_service.session_for_token(store, session.token, acme) is None
    entry = run("audit", "--action", "tenant.session_limits", "--json").json()[0]
    assert entry["detail"] == {"idle_seconds": 1800, "absolute_seconds": 3600} and entry["actor"] == "cli"
    assert run("tenant", "session-limits", "--idle", "600", "--absolute", "14d").status == 0
    assert tenants_service.tenant_by_slug(store, "acme").session_absolute_seconds == 14 * 86400


@pytest.mark.parametrize("idle,absolute,fields", [
    ("10", "1h", ["idle_seconds"]),
    ("2h", "1h", ["idle_seconds"]),
    ("8h", "400d", ["absolute_seconds"]),
    ("soon", "later", ["idle_seconds", "absolute_seconds"]),
    ("-5m", "1h", ["idle_seconds"]),
])
def test_session_limit_refusals_name_each_field(run, store, acme, idle, absolute, fields):
    before = row_counts(store)
    done = run("tenant", "session-limits", "--idle", idle, "--absolute", absolute)
    assert done.status == ExitCode.INVALID_INPUT
    for field in fields:
        assert field in done.stderr
    assert row_counts(store) == before
