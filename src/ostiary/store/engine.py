"""Opening the database (SQLite with WAL by default, PostgreSQL by URL),
bringing its schema to the current migration, and refusing one that is
missing or not current with the command that fixes it (docs/upgrading.md)."""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, make_url, text

from ostiary import secretbox
from ostiary.secretbox import SecretBox
from ostiary.store import answer_deadline

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseNotReady(Exception):
    """The database cannot be used as it is; the message names it and the fix, in one line."""


class DatabaseMissing(DatabaseNotReady):
    """No Ostiary installation there: no SQLite file, or no schema."""


class MigrationRefused(DatabaseNotReady):
    """A migration found data it cannot carry over as it is; the message names the rows and the fix."""


class SchemaNotCurrent(DatabaseNotReady):
    """The schema is behind this Ostiary (run `ostiary migrate`) or ahead of it."""


def describe_database(url: str) -> str:
    """How messages name a database: SQLite's absolute path, or the URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return "the in-memory SQLite database"
        return str(Path(parsed.database).resolve())
    shown = URL.create(parsed.get_backend_name(), username=parsed.username, host=parsed.host, port=parsed.port,
                       database=parsed.database)  # no password, no query string
    return shown.render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The SQLite database file, or None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_owner_only(path: Path) -> None:
    """The SQLite file's directory (when created here) is 0700 and the file
    0600: they hold the sessions and, unless a key seals them, the secrets.
    SQLite gives its -wal and -shm files the database file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)  # mkdir's mode is filtered by the umask
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_uid == os.getuid():
        os.chmod(path, 0o600)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Opening creates nothing yet; only `migrate` creates the file (and its directory).
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Take the write lock at BEGIN so concurrent writers queue instead of deadlocking.
        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            reading = conn.get_execution_options().get("ostiary_read_only", False)
            conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        @event.listens_for(engine, "connect")
        def _no_pysqlite_tx(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None

        return engine
    # A bounded connect: a silently dropped packet must not hang the follower or /readyz.
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args={"connect_timeout": 5})

    @event.listens_for(engine, "do_connect")
    def _bounded_answers(_dialect, _record, cargs, cparams):
        return answer_deadline.connect(*cargs, **cparams)

    return engine


def alembic_config(engine: Engine | None, box: SecretBox | None = None):
    # alembic is imported only to change the schema (`ostiary migrate`, the tests): a serving worker, which
    # only checks that the schema is current, never loads it (about 13 MB of each worker's memory).
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    cfg.attributes["secret_box"] = box if box is not None else secretbox.from_environment()  # for 0007
    return cfg


_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*=\s*(?:['"]([^'"]+)['"]|None)\s*$""", re.MULTILINE)


@functools.cache
def _chain() -> tuple[str, ...]:
    """The revisions of migrations/versions/, oldest first, read from each file's `revision` and
    `down_revision` lines (one straight chain; tests/unit/test_migrations.py holds it to alembic's own reading)."""
    parent: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict((m.group(1), m.group(2)) for m in _REVISION_LINE.finditer(path.read_text()))
        if "revision" in found:
            parent[found["revision"]] = found.get("down_revision")
    children = {p: r for r, p in parent.items()}
    chain, at = [], children.get(None)
    while at is not None:
        chain.append(at)
        at = children.get(at)
    if len(chain) != len(parent):
        raise RuntimeError("the migrations do not form one chain: see src/ostiary/store/migrations/versions")
    return tuple(chain)


def head_revision() -> str | None:
    """The newest schema revision this Ostiary knows."""
    chain = _chain()
    return chain[-1] if chain else None


def revisions() -> list[str]:
    """Every schema revision this Ostiary knows, oldest first."""
    return list(_chain())


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (alembic's version table), None when it has none."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


@dataclass
class Store:
    engine: Engine
    url: str
    # Seals and opens the stored secrets (ostiary/secretbox.py).
    box: SecretBox = field(default_factory=SecretBox)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all.
        Events recorded in it (audit entries) are logged once it has committed."""
        from ostiary.observability.audit_events import run_after_commit

        pending: list = []
        with self.engine.begin() as conn:
            conn.info["ostiary_after_commit"] = pending
            try:
                yield conn
            finally:
                conn.info.pop("ostiary_after_commit", None)
        run_after_commit(pending)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn.execution_options(ostiary_read_only=True)

    @property
    def name(self) -> str:
        return describe_database(self.url)

    def migrate(self) -> None:
        """Create the database when missing and bring its schema up to date:
        for `ostiary init`, `ostiary migrate` and `ostiary serve` only."""
        path = sqlite_file(self.url)
        if path is not None:
            create_owner_only(path)
        with answer_deadline.unbounded_answers():
            from alembic import command

            command.upgrade(alembic_config(self.engine, self.box), "head")

    def downgrade(self, revision: str) -> None:
        with answer_deadline.unbounded_answers():
            from alembic import command

            command.downgrade(alembic_config(self.engine, self.box), revision)

    def move_to(self, revision: str) -> str:
        """Upgrade or downgrade an installed database to `revision`, one of
        `revisions()`; returns the revision it was at."""
        self.ensure_installed()
        order, was = revisions(), current_revision(self.engine)
        if was not in order:
            self.ensure_current()  # names the unknown (newer) schema
        if order.index(revision) < order.index(was):
            self.downgrade(revision)
        else:
            with answer_deadline.unbounded_answers():
                from alembic import command

                command.upgrade(alembic_config(self.engine, self.box), revision)
        return was

    def ensure_installed(self) -> None:
        """Refuse a database Ostiary never set up, without creating it."""
        path = sqlite_file(self.url)
        if path is not None and not path.exists():  # connecting would create it
            raise DatabaseMissing(
                f"no Ostiary database at {self.name}: run `ostiary init` to set up a new installation there, "
                "or set OSTIARY_DATA_DIR (or OSTIARY_DATABASE_URL) to where yours is"
            )
        if current_revision(self.engine) is None:
            raise DatabaseMissing(
                f"the database {self.name} has no Ostiary schema: run `ostiary init` to set up a new "
                "installation there (or `ostiary migrate` for the schema alone)"
            )

    def ensure_current(self) -> None:
        """Refuse a database that is missing or whose schema is not this Ostiary's; change nothing."""
        self.ensure_installed()
        current, head = current_revision(self.engine), head_revision()
        if current == head:
            return
        if current not in revisions():
            raise SchemaNotCurrent(
                f"the database {self.name} is at schema {current}, which this Ostiary (schema {head}) does not "
                "know: a newer Ostiary migrated it; run that version, or downgrade the schema with it first "
                "(docs/upgrading.md)"
            )
        raise SchemaNotCurrent(
            f"the database {self.name} is at schema {current} but this Ostiary needs {head}: run `ostiary migrate`"
        )

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, box: SecretBox | None = None) -> Store:
    """The database at `url`; its secrets sealed by `box`, by default the
    key file OSTIARY_SECRET_KEY_FILE names in the environment."""
    return Store(engine=make_engine(url), url=url, box=box if box is not None else secretbox.from_environment())


def now() -> float:
    return time.time()
