from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who makes a change and from where; written to the audit log."""

    name: str
    addr: str = ""
    user_id: int | None = None


CLI_ACTOR = Actor(name="cli")
SYSTEM_ACTOR = Actor(name="system")
