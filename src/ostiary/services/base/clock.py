"""This instance's clock against the database's (docs/operations.md,
"Clocks"): every instance signs what another verifies, and each judges `exp`
and `iat` by its own clock, so instances whose clocks differ by more than
the signing leeway refuse each other's tokens. The database is the one clock
they all share. Measured at start and by /readyz, never on /check."""

from __future__ import annotations

import time

from sqlalchemy import text

from ostiary.store import Store
from ostiary.tokens import CLOCK_LEEWAY

__all__ = ["CLOCK_LEEWAY", "database_clock_offset", "describe_offset"]


def database_clock_offset(store: Store) -> float | None:
    """Seconds this machine's clock is ahead of the database server's (negative:
    behind), or None on SQLite, whose clock is this machine's own."""
    if not store.is_postgresql:
        return None
    with store.read() as conn:
        before = time.time()
        database = float(conn.execute(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar_one())
        after = time.time()
    return (before + after) / 2 - database


def describe_offset(offset: float) -> str:
    direction = "ahead of" if offset > 0 else "behind"
    return f"this instance's clock is {abs(offset):.1f} s {direction} the database's"
