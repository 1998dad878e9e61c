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
