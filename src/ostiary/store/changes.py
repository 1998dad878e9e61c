"""The change log: every write to something the gate's snapshot holds
appends an entry naming what changed, in the writer's own transaction, and
each worker's follower (snapshot/follower.py) applies it to its snapshot
(snapshot/build.py:apply_change has one handler per Entity). On PostgreSQL
the writer also NOTIFYs CHANNEL, so followers wake at once instead of at
their next poll."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert

from ostiary.store.tables import change_log

# The PostgreSQL channel writers NOTIFY and followers LISTEN on.
CHANNEL = "ostiary_changes"


class Entity(StrEnum):
    """What a change-log entry names (stored as the value); its entity_id says which one."""

    USER = "user"  # a user, their group memberships or second factors (entity_id: the user's id)
    SESSION = "session"  # a central session ended (entity_id: the session's id)
    APP = "app"  # an app or its group grants (entity_id: the app's id)
    GROUP = "group"  # a group added, moved, renamed or removed: the tenant's groups and closures are redone
    DOMAIN = "domain"  # a protected domain's state, portal host or chat-cookie source (entity_id: its id)
    # A tenant added, or its session limits, password sign-in or second-factor policy changed (entity_id: its id).
    TENANT = "tenant"
    KEY = "key"  # the signing keys (entity_id "*": every key is reloaded)
    INSTALLATION = "installation"  # the installation's base domain (entity_id "base_domain")
    PROVIDER = "provider"  # an upstream identity provider; not in the snapshot, only a new generation


def record_change(conn: Connection, tenant_id: int | None, entity: Entity, entity_id: Any) -> None:
    """Append to the change log in the caller's transaction. An entity that
    is not an Entity is refused (ValueError), so no follower ever meets one."""
    conn.execute(insert(change_log).values(tenant_id=tenant_id, entity=Entity(entity).value,
                                           entity_id=str(entity_id), at=time.time()))
    if conn.dialect.name == "postgresql":
        # Wake followers at once; the catch-up poll covers a missed notification.
        conn.exec_driver_sql(f"SELECT pg_notify('{CHANNEL}', '')")
