"""One line for a database that cannot be reached or opened: which database,
what is wrong, and what to change (docs/operations.md, "A wrong database
URL"). Only set-up faults are explained; anything else is a bug and keeps
its traceback."""

from __future__ import annotations

import re

from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ostiary.store.engine import describe_database

_CREDENTIALS = ("password authentication failed", "authentication failed", "no password supplied",
                "no pg_hba.conf entry", "permission denied for database")


def _server_said(text: str) -> str:
    """The server's own reason (after FATAL:), else the driver's first line."""
    found = re.search(r"FATAL:\s+(.+)", text)
    if found:
        return found.group(1).strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no reason given"


def _why_unreachable(text: str) -> str:
    if "failed to resolve host" in text or "could not translate host name" in text:
        return "unknown host name"
    if "Connection refused" in text:
        return "connection refused"
    if "timeout" in text or "timed out" in text:
        return "no answer in time"
    return _server_said(text).removeprefix("connection failed: ")


def explain_database_error(exc: DBAPIError, url: str) -> str | None:
    """The message for an error met while opening or using the database at
    `url`, or None when it is not a fault of the set-up."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    name = describe_database(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if "unable to open database file" in text:
            return (f"cannot open the SQLite database {name}: check that its directory exists and that this user "
                    "may write there, or set OSTIARY_DATA_DIR")
        if "file is not a database" in text:
            return f"{name} is not an SQLite database: point OSTIARY_DATA_DIR or OSTIARY_DATABASE_URL at Ostiary's"
        if "database is locked" in text:
            return f"the SQLite database {name} stayed locked by another process for 10 s: try again"
        if isinstance(exc, OperationalError):
            return f"the SQLite database {name} cannot be used ({_server_said(text)}): check its file and disk"
        return None
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return None
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if re.search(r'database ".*" does not exist', text):
        return (f'the database "{parsed.database}" does not exist on PostgreSQL at {where}: create it '
                f"(createdb -h {parsed.host or 'localhost'} -p {parsed.port or 5432} -U {parsed.username or 'postgres'} "
                f"{parsed.database}) or fix its name in OSTIARY_DATABASE_URL")
    if re.search(r'role ".*" does not exist', text) or any(s in text for s in _CREDENTIALS):
        return (f'PostgreSQL at {where} refused user "{parsed.username}" ({_server_said(text)}): check the user '
                "name and password in OSTIARY_DATABASE_URL (and pg_hba.conf on the server)")
    return (f"cannot reach PostgreSQL at {where} for {name} ({_why_unreachable(text)}): check the host and port "
            "in OSTIARY_DATABASE_URL, and that PostgreSQL runs and accepts connections from this machine")
