"""PostgreSQL connections that give up on a server that stops answering.

A stopped server refuses connections at once, but a frozen one (SIGSTOP, a
hung VM, a stalled network path) still has its kernel accept connections and
acknowledge packets, so neither `connect_timeout` nor TCP keepalives notice:
a query would wait forever and so would the request behind it. Each wait for
the server's answer is bounded; on expiry the connection is closed (so the
pool drops it) and an OperationalError is raised, which the portal and the API
turn into a 503 (docs/operations.md)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors

# Longer than any query a request makes; a migration runs without it (see `unbounded_answers`).
ANSWER_DEADLINE_SECONDS = 10.0

_unbounded = threading.local()


@contextmanager
def unbounded_answers() -> Iterator[None]:
    """Waits on this thread have no deadline: for migrations, whose statements may rewrite large tables."""
    was = getattr(_unbounded, "active", False)
    _unbounded.active = True
    try:
        yield
    finally:
        _unbounded.active = was


class BoundedAnswerConnection(psycopg.Connection):
    def wait(self, gen, *args, timeout: float | None = None, **kwargs):
        if timeout is None and not getattr(_unbounded, "active", False):
            timeout = ANSWER_DEADLINE_SECONDS
        try:
            return super().wait(gen, *args, timeout=timeout, **kwargs)
        except errors._WaitTimeout:
            self.close()  # mid-query it can never be reused
            raise psycopg.OperationalError(f"the database sent no answer within {timeout:g} s") from None


def connect(*args, **kwargs) -> BoundedAnswerConnection:
    return BoundedAnswerConnection.connect(*args, **kwargs)
