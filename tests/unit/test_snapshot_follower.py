"""The change feed: a small change is applied to the same snapshot in place
(no rebuild), and each kind of change lands in the right entries."""

from __future__ import annotations

from ostiary.services.rules import apps, domains, groups, sessions, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.snapshot.follower import SnapshotHolder


def _setup(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery", CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    domains.add_domain(store, tid, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
    domains.skip_verification(store, tid, CLI_ACTOR, "acme-corp.test", "unit test without DNS")
    groups.add_group(store, tid, CLI_ACTOR, "staff")
    users.add_user(store, tid, CLI_ACTOR, email="alice@acme.test", display_name="Alice")
    return tid


def test_a_small_change_is_applied_in_place_without_a_rebuild(store):
    tid = _setup(store)
    holder = SnapshotHolder(store)
    holder.load()
    snap = holder.snapshot
    alice_id = users.find_user(store, tid, "alice@acme.test").id
    groups.add_member(store, tid, CLI_ACTOR, "staff", "alice@acme.test")
    assert holder.poll_once() == 1
    assert holder.snapshot is snap
    assert snap.users[alice_id].groups_header == "staff"


def test_every_kind_of_change_reaches_the_snapshot(store):
    tid = _setup(store)
    holder = SnapshotHolder(store)
    holder.load()
    snap = holder.snapshot
    alice = users.find_user(store, tid, "alice@acme.test")
    apps.add_app(store, tid, CLI_ACTOR, name="grafana", url="https://grafana.acme-corp.test", groups_granted=["staff"])
    holder.poll_once()
    assert [a.name for a in snap.apps_by_host["grafana.acme-corp.test"]] == ["grafana"]
    apps.update_app(store, tid, CLI_ACTOR, "grafana", enabled=False)
    holder.poll_once()
    assert "grafana.acme-corp.test" not in snap.apps_by_host
    users.set_active(store, tid, CLI_ACTOR, "alice@acme.test", False)
    holder.poll_once()
    assert not snap.users[alice.id].active
    s = sessions.create_session(store, tid, alice.id)
    sessions.end_session(store, tid, s.id, "test", CLI_ACTOR)
    holder.poll_once()
    assert s.id in snap.ended_sessions
    groups.add_group(store, tid, CLI_ACTOR, "eng")
    groups.move_group(store, tid, CLI_ACTOR, "staff", "eng")
    groups.add_member(store, tid, CLI_ACTOR, "staff", "alice@acme.test")
    holder.poll_once()
    assert snap.users[alice.id].groups_header == "eng,staff"
    domains.record_verification(store, tid, CLI_ACTOR, "acme-corp.test", False, "record gone")
    holder.poll_once()
    assert "auth.acme-corp.test" not in snap.portal_hosts


def test_changes_committed_out_of_order_are_not_missed(store):
    """Ids 1..n seen with a gap: the gap is re-read until it fills."""
    tid = _setup(store)
    holder = SnapshotHolder(store)
    holder.load()
    from sqlalchemy import insert, update
    from ostiary.store.tables import change_log, users as users_table
    import time

    alice = users.find_user(store, tid, "alice@acme.test")
    base = holder._low_water
    with store.write() as conn:  # an id committed after a later one was already read
        conn.execute(insert(change_log).values(id=base + 2, tenant_id=tid, entity="user", entity_id=str(alice.id), at=time.time()))
    holder.poll_once()
    assert holder._low_water == base
    # The earlier transaction commits late: its change (alice disabled) has the lower id.
    with store.write() as conn:
        conn.execute(update(users_table).where(users_table.c.id == alice.id).values(active=False))
        conn.execute(insert(change_log).values(id=base + 1, tenant_id=tid, entity="user", entity_id=str(alice.id), at=time.time()))
    holder.poll_once()
    assert not holder.snapshot.users[alice.id].active
    assert holder._low_water == base + 2


def test_a_rotated_key_is_published_before_it_signs(store):
    import time

    from ostiary.services.rules import keys

    _setup(store)
    keys.ensure_signing_key(store)
    holder = SnapshotHolder(store)
    holder.load()
    old = holder.snapshot.signing_key
    new_kid = keys.rotate_keys(store, CLI_ACTOR, overlap_seconds=0)
    holder.poll_once()
    snap = holder.snapshot
    assert new_kid in snap.keys  # every worker can verify it...
    assert snap.signing_key.kid == old.kid  # ...before anyone signs with it
    time.sleep(keys.PUBLISH_AHEAD + 0.1)
    assert snap.signing_key.kid == new_kid


# --- who owes a second factor: every event that changes it, through the change log ---------------

def _as_a_full_load_has_it(store, snap) -> None:
    """The snapshot a follower kept current holds what a fresh full load holds."""
    from ostiary.snapshot.build import load_full

    with store.read() as conn:
        full = load_full(conn, store.box)
    for name in ("tenants", "tenant_hosts", "domains", "portal_hosts", "apps", "apps_by_host", "groups",
                 "users", "second_factor_enrolled", "admins", "ended_sessions", "base_domain"):
        assert getattr(snap, name) == getattr(full, name), name
    # A user in no group: the full load has no entry, a change leaves an empty one; both read as ().
    assert {u: g for u, g in snap.user_direct_groups.items() if g} == full.user_direct_groups


def _new_passkey(n: int):
    from ostiary.services.rules.passkeys import NewPasskey

    return NewPasskey(f"credential-{n}", "public-key", 0, "internal", "", False, True)


def test_every_second_factor_event_reaches_the_snapshot_as_a_full_load_would(store):
    """The inputs of access.owes_second_factor: the tenant's policy, who is an
    administrator, who has a second factor (TOTP or a passkey)."""
    from ostiary.services.rules import passkeys, second_factor
    from ostiary.store import TenantScope

    tid = _setup(store)
    holder = SnapshotHolder(store)
    holder.load()
    snap = holder.snapshot
    alice = users.find_user(store, tid, "alice@acme.test").id
    admin = users.find_user(store, tid, "admin@acme.test").id
    assert snap.tenants[tid].second_factor_policy == "off"
    assert snap.admins == {admin} and snap.second_factor_enrolled == set()
    _as_a_full_load_has_it(store, snap)

    def step(change, check):
        generation = snap.generation
        change()
        assert holder.poll_once() >= 1
        assert snap.generation > generation  # the gate's remembered answers are emptied
        assert check(), change
        _as_a_full_load_has_it(store, snap)

    step(lambda: tenants.set_second_factor_policy(store, tid, CLI_ACTOR, "everyone"),
         lambda: snap.tenants[tid].second_factor_policy == "everyone")
    step(lambda: tenants.set_second_factor_policy(store, tid, CLI_ACTOR, "admins"),
         lambda: snap.tenants[tid].second_factor_policy == "admins")
    step(lambda: users.set_admin(store, tid, CLI_ACTOR, "alice@acme.test", True), lambda: alice in snap.admins)
    step(lambda: users.set_admin(store, tid, CLI_ACTOR, "alice@acme.test", False), lambda: alice not in snap.admins)
    step(lambda: second_factor.enrol(store, tid, alice, CLI_ACTOR, second_factor.new_secret(), None),
         lambda: alice in snap.second_factor_enrolled)
    step(lambda: second_factor.reset(store, tid, alice, CLI_ACTOR), lambda: alice not in snap.second_factor_enrolled)

    def add_passkey(n):
        with store.write() as conn:
            passkeys.store_in(TenantScope(conn, tid), alice, _new_passkey(n), f"key {n}", CLI_ACTOR)

    step(lambda: add_passkey(1), lambda: alice in snap.second_factor_enrolled)
    step(lambda: add_passkey(2), lambda: alice in snap.second_factor_enrolled)
    first, second = [p.id for p in passkeys.list_passkeys(store, tid, alice)]
    step(lambda: passkeys.remove(store, tid, alice, first, CLI_ACTOR),
         lambda: alice in snap.second_factor_enrolled)  # one is left
    step(lambda: passkeys.remove(store, tid, alice, second, CLI_ACTOR),
         lambda: alice not in snap.second_factor_enrolled)
    step(lambda: (add_passkey(3), second_factor.enrol(store, tid, alice, CLI_ACTOR, second_factor.new_secret(), None)),
         lambda: alice in snap.second_factor_enrolled)
    step(lambda: second_factor.reset_all(store, tid, alice, CLI_ACTOR), lambda: alice not in snap.second_factor_enrolled)
    # A person added as an administrator, then deleted: gone from both.
    step(lambda: users.add_user(store, tid, CLI_ACTOR, email="root@acme.test", is_admin=True),
         lambda: users.find_user(store, tid, "root@acme.test").id in snap.admins)
    root = users.find_user(store, tid, "root@acme.test").id
    step(lambda: users.delete_user(store, tid, CLI_ACTOR, "root@acme.test"), lambda: root not in snap.admins)

