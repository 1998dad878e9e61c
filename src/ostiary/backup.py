"""`ostiary backup FILE` and `ostiary restore FILE` (docs/operations.md,
"Backups"): SQLite through its online backup API, which copies a consistent
snapshot while the servers keep writing; PostgreSQL through pg_dump and
pg_restore (Debian's postgresql-client), named with the database's
credentials in libpq's environment, never on the command line."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, make_url

from ostiary.secretbox import SecretBox
from ostiary.store import sealed
from ostiary.store.engine import create_owner_only, current_revision, describe_database, revisions, sqlite_file


class BackupRefused(Exception):
    """The backup or restore cannot be done; the message says why and the fix, in one line."""


def _new_owner_only_file(target: Path) -> None:
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise BackupRefused(f"{target} already exists: name a new file (a backup never overwrites one)") from None
    except OSError as exc:
        raise BackupRefused(f"cannot create {target}: {exc.strerror}") from None


def backup(url: str, target: Path) -> str:
    """Write a backup of the database at `url` to the new file `target`; returns what was written."""
    path = sqlite_file(url)
    if path is not None:
        return _backup_sqlite(path, target)
    return _backup_postgresql(url, target)


def restore(url: str, source: Path, box: SecretBox) -> str:
    """Replace the database at `url` with the backup in `source`, refusing one this
    Ostiary cannot use (unknown schema, secrets the configured key does not open)."""
    if not source.is_file():
        raise BackupRefused(f"{source} is not a file: name a backup made by `ostiary backup`")
    path = sqlite_file(url)
    if path is not None:
        return _restore_sqlite(path, source, box)
    return _restore_postgresql(url, source, box)


# -- SQLite ---------------------------------------------------------------------------


def _backup_sqlite(path: Path, target: Path) -> str:
    if not path.exists():
        raise BackupRefused(f"no Ostiary database at {path}: nothing to back up")
    _new_owner_only_file(target)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # One step: a consistent snapshot of one moment; WAL readers do not block the servers' writers.
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupRefused(f"the copy in {target} failed SQLite's check: run the backup again")
    except BaseException:
        copy.close()
        target.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    copy.close()
    return f"backed up {path} to {target} ({target.stat().st_size} bytes)"


def _check_backup(url: str, source: Path, box: SecretBox) -> None:
    engine = create_engine(url)
    try:
        revision = current_revision(engine)
        if revision not in revisions():
            raise BackupRefused(f"{source} holds schema {revision}, which this Ostiary does not know: "
                                "restore it with the Ostiary release that made it")
        with engine.connect() as conn:
            sealed.check_all(conn, box)  # SecretsUnreadable names the key setting
    finally:
        engine.dispose()


def _restore_sqlite(path: Path, source: Path, box: SecretBox) -> str:
    try:
        if sqlite3.connect(f"file:{source}?mode=ro", uri=True).execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupRefused(f"{source} fails SQLite's check: it is damaged")
    except sqlite3.DatabaseError:
        raise BackupRefused(f"{source} is not an SQLite database: name a backup made by `ostiary backup`") from None
    _check_backup(f"sqlite:///{source.absolute()}", source, box)
    create_owner_only(path)
    backup_copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    live = sqlite3.connect(path, timeout=30)
    try:
        backup_copy.backup(live)  # replaces every page in one transaction
    finally:
        backup_copy.close()
        live.close()
    return f"restored {path} from {source}"


# -- PostgreSQL -----------------------------------------------------------------------


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump's and pg_restore's connection: the database name as an argument,
    the rest (password included) in libpq's environment variables."""
    parsed = make_url(url)
    env = dict(os.environ)
    for name, value in (("PGHOST", parsed.host), ("PGPORT", parsed.port), ("PGUSER", parsed.username),
                        ("PGPASSWORD", parsed.password)):
        if value is not None:
            env[name] = str(value)
    return ["--dbname", parsed.database or ""], env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupRefused(f"{name} is not installed: install PostgreSQL's client tools (Debian: postgresql-client, "
                            "of the server's major version or newer), or follow docs/operations.md, \"Backups\"")
    return found


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[:400]
        raise BackupRefused(f"{what} failed: {detail}")


def _backup_postgresql(url: str, target: Path) -> str:
    tool = _tool("pg_dump")
    _new_owner_only_file(target)
    dbname, env = _libpq(url)
    try:
        # One transaction's snapshot: consistent while the servers keep writing.
        _run([tool, "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), *dbname], env,
             "pg_dump")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return f"backed up {describe_database(url)} to {target} ({target.stat().st_size} bytes)"


def _restore_postgresql(url: str, source: Path, box: SecretBox) -> str:
    tool = _tool("pg_restore")
    dbname, env = _libpq(url)
    _run([tool, "--list", str(source)], env, f"reading {source} as a pg_dump archive")
    _run([tool, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", *dbname, str(source)], env, "pg_restore")
    _check_backup(url, source, box)
    return f"restored {describe_database(url)} from {source}"
