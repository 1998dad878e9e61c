"""Who may enter an app: the one rule, used by /check (gate/decide.py), the
handshake's /authorize (portal/handshake.py) and the admin pages alike
(docs/contract.md §2 and §3). A grant to a group admits that group's members
and the members of every group below it.

Below both the gate and the portal, over plain values: which app a URL
names, who a forward-auth cookie signs in, and whether that person is
admitted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ostiary.tokens import FORWARD_AUTH, verify
from ostiary.urlrules import under_prefix
from ostiary.wire import FORBIDDEN, NOT_SIGNED_IN

if TYPE_CHECKING:
    from ostiary.snapshot.model import AppView, DomainView, Snapshot, UserView

# What the admission rule answers, in the order it decides (docs/contract.md §3, rows 8-10).
# Where a verdict is also a /check outcome it is that outcome's constant (ostiary/wire.py), the
# same object, so `verdict is FORBIDDEN` holds wherever FORBIDDEN was imported from.
ADMITTED = "admitted"
# NOT_SIGNED_IN (wire): no such user, disabled, or of another tenant
SECOND_FACTOR = "second_factor"  # the app, or the person, requires a second factor the session did not pass
# FORBIDDEN (wire): not in a granted group (nor below one), and the app is not open to all
__all__ = ["ADMITTED", "FORBIDDEN", "NOT_SIGNED_IN", "SECOND_FACTOR", "admission", "cookie_identity", "match_app",
           "may_enter", "owes_second_factor", "policy_requires", "second_factor_owed", "with_ancestors",
           "would_create_cycle"]


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


def may_enter(user_groups: Iterable[int], all_users: bool, granted_groups: frozenset[int]) -> bool:
    """`user_groups` must already include ancestors (see with_ancestors)."""
    return all_users or not granted_groups.isdisjoint(user_groups)


def policy_requires(policy: str | None, is_admin: bool) -> bool:
    """Whether a tenant's second-factor policy (off, admins, everyone) requires one of this person."""
    return policy == "everyone" or (policy == "admins" and is_admin)


def second_factor_owed(enrolled: bool, policy: str | None, is_admin: bool) -> bool:
    """Whether a person owes a second factor at every sign-in (docs/sign-in.md): one who
    has one (an authenticator app or a passkey) passes it; one the tenant's policy
    requires it of sets one up first. The portal asks it of the database
    (services/rules/sessions.py), the gate of its snapshot (owes_second_factor)."""
    return enrolled or policy_requires(policy, is_admin)


def owes_second_factor(snap: Snapshot, user: UserView) -> bool:
    """second_factor_owed, from the snapshot: /check asks it only of a cookie whose
    session did not pass a second factor. A user whose tenant the snapshot does
    not hold owes one (fail closed)."""
    uid = user.id
    if uid in snap.second_factor_enrolled:  # second_factor_owed, its first term asked first: /check's path
        return True
    tenant = snap.tenants.get(user.tenant_id)
    return tenant is None or policy_requires(tenant.second_factor_policy, uid in snap.admins)


def admission(user: UserView | None, tenant_id: int, app: AppView, second_factor: bool, owed: bool = False) -> str:
    """Whether `user`, signed in to tenant `tenant_id` by a session that did
    (or did not) pass a second factor, may enter `app`: ADMITTED, or why not.
    `owed`: the person owes a second factor whatever the app (second_factor_owed);
    asked only when the session did not pass one."""
    if user is None or not user.active or user.tenant_id != tenant_id:
        return NOT_SIGNED_IN
    if not second_factor and (app.require_2fa or owed):
        return SECOND_FACTOR
    if not (app.all_users or not app.granted.isdisjoint(user.groups)):  # may_enter, inline: /check's hot path
        return FORBIDDEN
    return ADMITTED


def match_app(snap: Snapshot, scheme: str, host: str, port: int | None, path: str | None) -> AppView | None:
    """The enabled app `scheme://host[:port]` + `path` names: same scheme, host
    and port, longest path prefix first. `path` is normalised
    (urlrules.normalise_request_path); when it could not be, only an app that
    owns the whole host can be meant."""
    candidates = snap.apps_by_host.get(host)
    if not candidates:
        return None
    default_port = 443 if scheme == "https" else 80
    port = port or default_port
    origin = scheme + "://"
    for app in candidates:
        if not app.url.startswith(origin) or (app.port or default_port) != port:
            continue
        if path is None:
            return app if app.path_prefix == "/" and len(candidates) == 1 else None
        if under_prefix(path, app.path_prefix):
            return app
    return None


def cookie_identity(snap: Snapshot, cookies: Iterable[str], domain: DomainView, now: float) -> dict | None:
    """The payload of the first forward-auth cookie value that verifies for
    this domain and its tenant, or None."""
    for value in cookies:
        payload = verify(FORWARD_AUTH, value, snap.keys, now)
        if payload is not None and payload.get("d") == domain.id and payload.get("tn") == domain.tenant_id:
            return payload
    return None
