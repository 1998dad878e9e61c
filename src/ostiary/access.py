"""Who may enter an app: the one rule, used by /check, /authorize and the
admin pages alike. A grant to a group admits that group's members and the
members of every group below it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def with_ancestors(group_ids: Iterable[int], parent_of: Mapping[int, int | None]) -> frozenset[int]:
    """The groups given plus every ancestor of each: what a member "is in"."""
    seen: set[int] = set()
    for gid in group_ids:
        while gid is not None and gid not in seen:
            seen.add(gid)
            gid = parent_of.get(gid)
    return frozenset(seen)


def would_create_cycle(group_id: int, new_parent_id: int | None, parent_of: Mapping[int, int | None]) -> bool:
    """True when making `new_parent_id` the parent of `group_id` closes a loop."""
    node = new_parent_id
    while node is not None:
        if node == group_id:
            return True
        node = parent_of.get(node)
    return False


def may_enter(user_groups: frozenset[int], all_users: bool, granted_groups: frozenset[int]) -> bool:
    """`user_groups` must already include ancestors (see with_ancestors)."""
    return all_users or not granted_groups.isdisjoint(user_groups)
