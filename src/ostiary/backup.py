"""`ostiary backup FILE` and `ostiary restore FILE` (docs/operations.md,
"Backups"): SQLite through its online backup API, which copies a consistent
snapshot while the servers keep writing; PostgreSQL through pg_dump,
pg_restore and psql (Debian's postgresql-client), named with the database's
credentials in libpq's environment, never on the command line."""

from __future__ import annotations

import codecs
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from ostiary.secretbox import SecretBox
from ostiary.store import answer_deadline, sealed
from ostiary.store.engine import (alembic_config, create_owner_only, current_revision, describe_database, revisions,
                                  sqlite_file)


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


def _check_revision(revision: str | None, source: Path) -> None:
    if revision not in revisions():
        raise BackupRefused(f"{source} holds schema {revision}, which this Ostiary does not know: "
                            "restore it with the Ostiary release that made it")


def _tables_at(revision: str, box: SecretBox) -> set[str]:
    """The tables Ostiary's schema has at `revision`: its migrations, run up to it on a scratch SQLite database."""
    from alembic import command

    with tempfile.TemporaryDirectory(prefix="ostiary-restore-") as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'schema.db'}")
        try:
            with answer_deadline.unbounded_answers():
                command.upgrade(alembic_config(engine, box), revision)
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()


def _check_whole(revision: str, tables: set[str], expected: set[str], source: Path) -> None:
    """Refuse a backup that lacks a table its own schema revision has (`expected`, from
    _tables_at): a partial copy, `pg_dump --exclude-table`, a table dropped by hand.
    Restoring it would leave Ostiary without one of its tables."""
    missing = sorted(expected - tables)
    if missing:
        raise BackupRefused(f"{source} lacks tables its schema {revision} has ({', '.join(missing)}): it is not a "
                            "whole backup; name a backup made by `ostiary backup`")


def _check_backup(url: str, source: Path, box: SecretBox) -> None:
    engine = create_engine(url)
    try:
        revision = current_revision(engine)
        _check_revision(revision, source)
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        _check_whole(revision, tables, _tables_at(revision, box), source)
        with engine.connect() as conn:
            # Only the sealed columns the backup has: an older schema lacks the later ones.
            sealed.check_all(conn, box)  # SecretsUnreadable names the key setting
    except SQLAlchemyError as exc:
        detail = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        raise BackupRefused(f"{source} cannot be read as an Ostiary database ({detail}): "
                            "name a backup made by `ostiary backup`") from None
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


def _run(args: list[str], env: dict[str, str], what: str, stdin: bytes = b"") -> bytes:
    """Runs a client tool (reading `stdin`); returns what it wrote to its standard output."""
    done = subprocess.run(args, env=env, input=stdin, capture_output=True)
    if done.returncode != 0:
        detail = " ".join(done.stderr.decode("utf-8", errors="replace").split())[:400]
        raise BackupRefused(f"{what} failed: {detail}")
    return done.stdout


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
    tool, psql = _tool("pg_restore"), _tool("psql")
    dbname, env = _libpq(url)
    listing = _run([tool, "--list", str(source)], env, f"reading {source} as a pg_dump archive")
    schema, revision = _check_archive(url, tool, source, box)  # before anything changes
    if schema is None:
        schema = _current_schema(url)
    expected = _tables_at(revision, box)
    _check_whole(revision, _archive_table_names(listing, schema, expected), expected, source)
    # pg_restore --clean drops only what the backup holds. The tables of Ostiary's live schema that an
    # older backup lacks (a later migration added them, and they refer to `users`) go in the same
    # transaction, first: one DROP TABLE naming them all, no CASCADE, so nothing that is not Ostiary's
    # goes with them (another application's table referring to one makes the restore fail, unchanged).
    live = _ostiary_tables(url, schema)
    newer = sorted(live - _archive_table_names(listing, schema, live))
    drops = f"DROP TABLE {', '.join(f'{_quoted(schema)}.{_quoted(t)}' for t in newer)};\n" if newer else ""
    # One transaction: psql stops at the first error and then commits nothing.
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c client_min_messages=warning".strip()
    _restore_through_psql([tool, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--file=-", str(source)],
                          [psql, "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                           "--file=-", *dbname], env, drops.encode("ascii"))
    return f"restored {describe_database(url)} from {source}"


def _stderr(file) -> str:
    file.seek(0)
    return " ".join(file.read().decode("utf-8", errors="replace").split())[:400]


def _restore_through_psql(restore: list[str], psql: list[str], env: dict[str, str], preamble: bytes) -> None:
    """pg_restore's script piped into psql as it is written, after `preamble`: never whole in
    memory, however large the installation. psql runs it in one transaction, which it commits
    only at the end of its input; that end comes only after pg_restore finished cleanly. If
    pg_restore fails part way (a truncated or damaged archive), psql is killed first, and the
    server rolls back the transaction of the connection that went."""
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        into = subprocess.Popen(psql, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err)
        try:
            try:
                into.stdin.write(preamble)
                into.stdin.flush()
            except BrokenPipeError:
                pass  # psql has already stopped: its own error is reported below
            reader = subprocess.Popen(restore, env=env, stdout=into.stdin, stderr=restore_err)
            finished = reader.wait()
            if finished != 0 or into.poll() is not None:
                # Nothing is committed: psql has not read the end of its input (this process holds it open).
                into.kill()
                stopped = into.wait()
                if stopped not in (0, -signal.SIGKILL) and (detail := _stderr(psql_err)):
                    raise BackupRefused(f"restoring with psql failed: {detail}")
                raise BackupRefused(f"pg_restore failed: {_stderr(restore_err) or f'exit status {finished}'}")
            into.stdin.close()
            if into.wait() != 0:
                raise BackupRefused(f"restoring with psql failed: {_stderr(psql_err)}")
        except BaseException:
            if into.poll() is None:
                into.kill()
                into.wait()
            raise


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _current_schema(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT current_schema()")).scalar()
    finally:
        engine.dispose()


def _ostiary_tables(url: str, schema: str) -> set[str]:
    """Ostiary's tables (every one its migrations create, and alembic's) the live database has in `schema`."""
    from ostiary.store.tables import metadata

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            live = conn.execute(text("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = :schema"),
                                {"schema": schema}).scalars()
            return set(live) & {*metadata.tables, "alembic_version"}
    finally:
        engine.dispose()


def _archive_table_names(listing: bytes, schema: str, names: set[str]) -> set[str]:
    """Which of the tables `names` the archive holds in `schema`, from `pg_restore --list`. Its
    lines name a table as `ID; OID OID TABLE SCHEMA NAME OWNER`, unquoted and separated by
    spaces (which a schema's name may hold too), so each known name is looked for as a whole."""
    lines = [line.decode("utf-8", errors="replace") for line in listing.splitlines()]
    tables = [line.split(" TABLE ", 1)[1] for line in lines
              if " TABLE " in line and not line.startswith(";") and "; " in line.split(" TABLE ", 1)[0]]
    return {name for name in names if any(table.startswith(f"{schema} {name} ") for table in tables)}


# -- Checking a pg_dump archive before restoring it -------------------------------------
#
# The checks read the backup file itself, without a database (the operator's user may not
# create one): `pg_restore --data-only --table=NAME --file=-` writes the named tables' rows
# as COPY statements in PostgreSQL's text format, which is parsed here. The same checks as
# on SQLite then run on those values (_check_revision, sealed.check_values).

_IDENT = r'(?:"(?:[^"]|"")*"|[^\s."(),]+)'  # a name as pg_dump writes it: bare, or double-quoted
_COPY = re.compile(rf"COPY (?:(?P<schema>{_IDENT})\.)?(?P<table>{_IDENT}) \((?P<columns>.*)\) FROM stdin;")
# COPY's text format: \N is NULL; a backslash escapes a control character, a byte in
# octal or hexadecimal, or (the backslash, the tab) itself.
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.DOTALL)
_CONTROL = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
# PostgreSQL's encoding names Python does not know as they are (Python knows UTF8, LATINn,
# EUC_JP, ...; WINnnnn is "cpnnnn" below). SQL_ASCII declares no encoding: its bytes are read
# one a character, which keeps the ASCII the checks look at (revisions, "enc1:", the tokens).
_CODECS = {"SQL_ASCII": "latin-1", "KOI8R": "koi8_r", "KOI8U": "koi8_u"}


def _name(ident: str) -> str:
    return ident[1:-1].replace('""', '"') if ident.startswith('"') else ident


def _unescape(raw: bytes) -> bytes:
    def one(match: re.Match) -> bytes:
        octal, hexadecimal, char = match.groups()
        if octal:
            return bytes([int(octal, 8) & 0xFF])
        if hexadecimal:
            return bytes([int(hexadecimal, 16)])
        return _CONTROL.get(char, char)
    return _ESCAPE.sub(one, raw)


def _codec(line: bytes, source: Path) -> str:
    """Python's codec for pg_restore's `SET client_encoding = 'NAME';` line."""
    name = line.split(b"'")[1].decode("ascii", errors="replace") if line.count(b"'") == 2 else ""
    codec = _CODECS.get(name.upper(), "cp" + name[3:] if name.upper().startswith("WIN") else name)
    try:
        return codecs.lookup(codec).name
    except LookupError:
        raise BackupRefused(f"{source} is in the encoding {name!r}, which `ostiary restore` cannot read: "
                            "restore it with pg_restore yourself (docs/operations.md, \"Backups\")") from None


@dataclass
class _ArchiveTable:
    """One table's rows as the archive holds them: each field raw (still escaped), None for NULL."""

    source: Path
    name: str
    encoding: str
    columns: list[str]
    rows: list[list[bytes | None]] = field(default_factory=list)

    def values(self, column: str) -> list[str]:
        """The column's values that are not NULL (none when the table has no such column)."""
        if column not in self.columns:
            return []
        at = self.columns.index(column)
        try:
            return [_unescape(row[at]).decode(self.encoding) for row in self.rows if row[at] is not None]
        except UnicodeDecodeError:
            raise BackupRefused(f"{self.source} is damaged: a value of {self.name}.{column} is not "
                                f"{self.encoding}, the encoding the backup names") from None


def _archive_tables(tool: str, source: Path, names: tuple[str, ...]) -> dict[tuple[str | None, str], _ArchiveTable]:
    """The tables called `names` (in any schema) in the pg_dump archive `source`, keyed by (schema, table)."""
    with closing(_lines([tool, "--data-only", *(f"--table={name}" for name in names), "--file=-", str(source)],
                        dict(os.environ), f"reading the data in {source}")) as lines:
        return _read_copy(lines, source)


def _read_copy(lines, source: Path) -> dict[tuple[str | None, str], _ArchiveTable]:
    """The tables in pg_restore's data-only script, read line by line."""
    damaged = f"{source} is damaged: pg_restore wrote data `ostiary restore` cannot read"
    encoding = "utf-8"
    tables: dict[tuple[str | None, str], _ArchiveTable] = {}
    for line in lines:
        if line.startswith(b"SET client_encoding = "):
            encoding = _codec(line, source)
        elif line.startswith(b"INSERT INTO "):
            raise BackupRefused(f"{source} holds its rows as INSERT statements (pg_dump --inserts): "
                                "name a backup made by `ostiary backup`")
        elif line.startswith(b"COPY "):
            match = _COPY.fullmatch(line.decode(encoding, errors="replace"))
            if match is None:
                raise BackupRefused(f"{damaged} ({line[:80].decode(encoding, errors='replace')})")
            name = _name(match["table"])
            table = _ArchiveTable(source, name, encoding, [_name(i) for i in re.findall(_IDENT, match["columns"])])
            tables[(_name(match["schema"]) if match["schema"] else None, name)] = table
            for row in lines:
                if row == b"\\.":
                    break
                values = row.split(b"\t")
                if len(values) != len(table.columns):
                    raise BackupRefused(f"{damaged} (a row of {name} has {len(values)} fields, "
                                        f"not {len(table.columns)})")
                table.rows.append([None if value == b"\\N" else value for value in values])
            else:
                raise BackupRefused(f"{damaged} (the rows of {name} do not end)")
    return tables


def _lines(args: list[str], env: dict[str, str], what: str):
    """The lines a client tool writes (without their ends), read as it writes them; a failure
    of the tool is raised after its last line, as _run raises it."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=err)
        try:
            for line in proc.stdout:
                yield line.removesuffix(b"\n")
            if proc.wait() != 0:
                raise BackupRefused(f"{what} failed: {_stderr(err)}")
        finally:
            if proc.poll() is None:  # the reader stopped early (a refusal): no tool left behind
                proc.kill()
            proc.wait()
            proc.stdout.close()


def _ostiary_schema(url: str, source: Path, schemas: list[str | None]) -> str | None:
    """The schema of the archive's alembic_version table; when several schemas hold one, the
    one the database's search path finds first (where the servers will look after the restore)."""
    if len(schemas) <= 1:
        return schemas[0] if schemas else None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT current_schema()")).scalar()
    finally:
        engine.dispose()
    if current not in schemas:
        raise BackupRefused(f"{source} holds an alembic_version table in the schemas "
                            f"{', '.join(sorted(str(s) for s in schemas))}, and the database's search path "
                            f"finds none of them first ({current}): restore it with pg_restore yourself "
                            "(docs/operations.md, \"Backups\")")
    return current


def _check_archive(url: str, tool: str, source: Path, box: SecretBox) -> tuple[str | None, str]:
    """The checks _check_backup runs on a database, run on the archive's own rows; returns
    the archive's schema holding Ostiary's tables, and its revision."""
    names = tuple(dict.fromkeys(("alembic_version", *(table for table, _, _ in sealed.SEALED_COLUMNS))))
    tables = _archive_tables(tool, source, names)
    schema = _ostiary_schema(url, source, [s for s, table in tables if table == "alembic_version"])

    def values(table: str, column: str) -> list[str]:
        found = tables.get((schema, table))
        return found.values(column) if found else []

    versions = values("alembic_version", "version_num")
    _check_revision(versions[0] if versions else None, source)
    sealed.check_values((value for table, _, column in sealed.SEALED_COLUMNS for value in values(table, column)), box)
    return schema, versions[0]
