"""What the gate knows, held in plain dicts of frozen records.

Only the follower thread writes. It replaces whole entries (never mutates a
record in place), and a dict lookup or assignment is atomic under CPython's
GIL, so a reader sees each entry either before or after a change, never
half-way. Small changes therefore cost a few dict writes, not a rebuild."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ostiary.tokens import SigningKey


@dataclass(frozen=True, slots=True)
class TenantView:
    id: int
    slug: str
    host: str
    idle_seconds: int
    absolute_seconds: int
    # Branding (services/rules/branding.py), for pages the gate and the portal draw without the database.
    name: str = ""
    contact: str | None = None
    accent_colour: str | None = None
    logo_version: str | None = None
    # Who must have a second factor (services/rules/tenants.py): "off", "admins" or "everyone".
    second_factor_policy: str = "off"


@dataclass(frozen=True, slots=True)
class DomainView:
    id: int
    tenant_id: int
    name: str
    portal_host: str
    verified: bool
    # The chat's shared-cookie source (ostiary.sharedcookie.verifier) when the domain uses one.
    shared_cookie: object | None = None


@dataclass(frozen=True, slots=True)
class AppView:
    id: int
    tenant_id: int
    domain_id: int
    name: str
    url: str
    host: str
    port: int | None
    path_prefix: str
    public_exact: frozenset[str]
    public_prefixes: tuple[str, ...]  # each ends with "/"
    header_keys: tuple[str, ...]
    all_users: bool
    granted: frozenset[int]
    enabled: bool
    require_2fa: bool
    shared_cookie: object | None = None  # overrides the domain's source


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    tenant_id: int
    username: str
    email: str
    display_name: str
    active: bool
    groups: tuple[int, ...]  # direct groups and all their ancestors, sorted (a tuple: a sixth of a frozenset's memory)
    groups_header: str  # their names, comma-separated, sorted


@dataclass(frozen=True, slots=True)
class GroupView:
    id: int
    tenant_id: int
    name: str
    parent_id: int | None


@dataclass
class Snapshot:
    base_domain: str | None = None
    tenants: dict[int, TenantView] = field(default_factory=dict)
    tenant_hosts: dict[str, TenantView] = field(default_factory=dict)
    domains: dict[int, DomainView] = field(default_factory=dict)
    # Verified domains only: an unverified domain serves nothing.
    portal_hosts: dict[str, DomainView] = field(default_factory=dict)
    apps: dict[int, AppView] = field(default_factory=dict)
    # Enabled apps of verified domains, longest path prefix first.
    apps_by_host: dict[str, tuple[AppView, ...]] = field(default_factory=dict)
    groups: dict[int, GroupView] = field(default_factory=dict)
    user_direct_groups: dict[int, tuple[int, ...]] = field(default_factory=dict)  # sorted, as UserView.groups
    users: dict[int, UserView] = field(default_factory=dict)
    # Who owes a second factor, with TenantView.second_factor_policy (access.owes_second_factor):
    # the ids of users who have one (an authenticator app or a passkey), and of administrators.
    # Sets beside the users, not fields of every UserView: few people are either.
    second_factor_enrolled: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)
    # Ended central sessions that have not yet expired: session id -> expires_at.
    ended_sessions: dict[str, float] = field(default_factory=dict)
    keys: dict[str, SigningKey] = field(default_factory=dict)
    last_change_id: int = 0
    loaded: bool = False
    # Counts changes applied in place (apply_change, prune_ended_sessions), each after
    # its change: the gate keeps a remembered answer only within one generation.
    generation: int = 0

    @property
    def signing_key(self) -> SigningKey | None:
        """The newest key that has started signing and is not retired."""
        now = time.time()
        usable = [k for k in self.keys.values()
                  if k.signs_from <= now and (k.retire_at is None or k.retire_at > now)]
        return max(usable, key=lambda k: k.signs_from, default=None)
