"""What a worker holds (BENCHMARKS.md, target 5: at most 250 MB with 100,000
people and 10,000 apps). The snapshot keeps one object per group id and per
person id, and one tuple per distinct set of direct groups, instead of the
fresh ones every database row brings; and a worker does not import what only
a directory sign-in (ldap3) or a second-factor enrolment (segno) needs."""

from __future__ import annotations

import subprocess
import sys

from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules import groups, tenants, users
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.store import open_store
from tests.support.database import copy_sqlite


def test_the_snapshot_shares_ids_and_group_tuples_among_people(sqlite_template, tmp_path):
    store = open_store(copy_sqlite(sqlite_template, tmp_path))
    try:
        tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery",
                                  CLI_ACTOR)
        tid = tenants.tenant_by_slug(store, "acme").id
        # Past 256: CPython shares the small ints itself, which would make the test pass on its own.
        for n in range(260):
            groups.add_group(store, tid, CLI_ACTOR, f"g{n:03d}")
        people = ["ann@acme.test", "bob@acme.test", "cy@acme.test"]
        for email in people:
            users.add_user(store, tid, CLI_ACTOR, email=email)
        for email in people[:2]:
            groups.add_member(store, tid, CLI_ACTOR, "g258", email)
            groups.add_member(store, tid, CLI_ACTOR, "g259", email)
        groups.add_member(store, tid, CLI_ACTOR, "g259", people[2])
        holder = SnapshotHolder(store)
        holder.load()
        snap = holder.snapshot
        ann, bob, cy = (users.find_user(store, tid, e).id for e in people)
        assert min(snap.user_direct_groups[ann]) > 256
        assert snap.user_direct_groups[ann] == snap.user_direct_groups[bob]
        assert snap.user_direct_groups[ann] is snap.user_direct_groups[bob], "one tuple for the same groups"
        same = {id(g) for g in snap.groups}
        assert all(id(g) in same for t in (snap.user_direct_groups[ann], snap.user_direct_groups[cy]) for g in t), \
            "a group id is the GroupView's own int"
        keys = {id(k): k for k in snap.user_direct_groups}
        assert all(id(snap.users[uid].id) in keys for uid in (ann, bob, cy)), "keyed by the UserView's own id"
        assert snap.users[ann].groups_header == "g258,g259" and snap.users[cy].groups_header == "g259"
    finally:
        store.dispose()


def test_a_worker_does_not_import_what_only_rare_pages_need():
    code = ("import sys, ostiary.app; from ostiary.services.jobs.reverifier import Reverifier; "
            "print(' '.join(m for m in ('ldap3', 'segno') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"imported at a worker's start: {out}"
