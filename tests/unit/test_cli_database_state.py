"""Only `ostiary init` and `ostiary migrate` create or migrate a database.
Every other command, against a database that is missing or behind, says
which database (its absolute path, or its URL without the password) and
what to run, exits 1, and leaves it as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from alembic import command
from click.testing import CliRunner

from ostiary.cli import main
from ostiary.store import open_store
from ostiary.store.engine import alembic_config, current_revision, head_revision
from tests.support.database import create_pg_database, drop_pg_database, pg_url
from tests.support.server import free_port

# Commands that create or migrate by design, or use no installation database.
CREATING = {("init",), ("migrate",), ("restore",)}
# A backup is what to take before `ostiary migrate`: it copies a database at any schema.
ANY_SCHEMA = {("backup",)}
# The demo keeps its own database; cookie-doctor, proxy-files and systemd-unit (files shipped in the
# package) and secret-key generate (prints a new key) use none.
NOT_THE_INSTALLATION = {("demo",), ("cookie-doctor",), ("proxy-files",), ("systemd-unit",),
                        ("secret-key", "generate")}


def _leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _leaf_commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def _plausible_args(cmd: click.Command) -> list[str]:
    """Values for the required parameters, so the command gets as far as the database."""
    args: list[str] = []
    for param in cmd.params:
        if not param.required:
            continue
        if isinstance(param.type, click.Choice):
            value = str(param.type.choices[0])
        elif isinstance(param.type, click.types.IntParamType):
            value = "1"
        else:
            value = "someone@acme.test"
        args += [value] if isinstance(param, click.Argument) else [param.opts[0], value]
    return args


USING_THE_DATABASE = [(path, _plausible_args(cmd)) for path, cmd in _leaf_commands(main)
                      if path not in CREATING | NOT_THE_INSTALLATION and path != ("serve",)]
IDS = [" ".join(path) for path, _ in USING_THE_DATABASE]


def _clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update(values)
    return env


def _run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(main, args, env={**{k: None for k in os.environ if k.startswith("OSTIARY_")}, **env})


def test_the_commands_under_test_include_the_everyday_ones():
    assert {("user", "list"), ("keys", "rotate"), ("app", "add"), ("doctor",)} <= {p for p, _ in USING_THE_DATABASE}


@pytest.mark.parametrize("path, args", USING_THE_DATABASE, ids=IDS)
def test_a_command_in_a_new_directory_creates_no_database_and_says_what_to_run(tmp_path, path, args):
    data_dir = tmp_path / "ostiary-data"
    result = _run([*path, *args], {"OSTIARY_DATA_DIR": str(data_dir)})
    assert not data_dir.exists(), f"`ostiary {' '.join(path)}` created {list(data_dir.rglob('*'))}"
    assert result.exit_code != 0, result.output
    if result.exit_code == 2:  # refused its input before it needed the database
        return
    assert result.exit_code == 1, result.output
    assert str(data_dir.resolve() / "ostiary.db") in result.output
    assert "ostiary init" in result.output
    assert "Traceback" not in result.output


def test_user_list_before_init_names_the_absolute_path_and_the_fix(tmp_path):
    """From a relative data dir, as a newcomer runs it."""
    done = subprocess.run([sys.executable, "-m", "ostiary", "user", "list"], cwd=tmp_path, env=_clean_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert not (tmp_path / "ostiary-data").exists()
    line, = done.stderr.strip().splitlines()
    assert str(tmp_path / "ostiary-data" / "ostiary.db") in line and "ostiary init" in line, line


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request, tmp_path):
    """A database at the first schema revision, as an older Ostiary left it."""
    if request.param == "sqlite":
        url, name = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        name = create_pg_database()
        url = pg_url(name)
    store = open_store(url)
    first = _first_revision(store)
    command.upgrade(alembic_config(store.engine), first)
    store.dispose()
    yield url, first
    if name:
        drop_pg_database(name)


def _first_revision(store) -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(store.engine)).get_base()


def _revision(url: str) -> str | None:
    store = open_store(url)
    try:
        return current_revision(store.engine)
    finally:
        store.dispose()


def test_every_command_leaves_an_old_schema_alone_and_says_to_migrate(old_url):
    url, first = old_url
    store = open_store(url)
    head = head_revision()
    store.dispose()
    assert first != head, "needs a database behind the current schema"
    shown = url.replace("postgresql+psycopg://", "postgresql://") if url.startswith("postgresql") else url.removeprefix("sqlite:///")
    for path, args in USING_THE_DATABASE:
        if path in ANY_SCHEMA:
            continue
        result = _run([*path, *args], {"OSTIARY_DATABASE_URL": url})
        assert _revision(url) == first, f"`ostiary {' '.join(path)}` migrated the database"
        if result.exit_code == 2:
            continue
        assert result.exit_code == 1, (path, result.output)
        assert shown in result.output and f"at schema {first}" in result.output, (path, result.output)
        assert "ostiary migrate" in result.output, (path, result.output)


def test_migrate_creates_and_migrates_and_then_commands_run(tmp_path):
    data_dir = tmp_path / "data"
    assert _run(["migrate"], {"OSTIARY_DATA_DIR": str(data_dir)}).exit_code == 0
    assert (data_dir / "ostiary.db").exists()
    listed = _run(["keys", "list"], {"OSTIARY_DATA_DIR": str(data_dir)})
    assert listed.exit_code == 0 and "signing" in listed.output, listed.output


def test_migrate_brings_an_old_schema_up(old_url):
    url, first = old_url
    result = _run(["migrate"], {"OSTIARY_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    store = open_store(url)
    try:
        assert _revision(url) == head_revision()
    finally:
        store.dispose()


def test_serve_refuses_a_missing_database_without_creating_it(tmp_path):
    data_dir = tmp_path / "nothing-here"
    done = subprocess.run([sys.executable, "-m", "ostiary", "serve", "--port", str(free_port())],
                          env=_clean_env(OSTIARY_DATA_DIR=str(data_dir)), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert not data_dir.exists()
    line, = done.stderr.strip().splitlines()
    assert str(data_dir / "ostiary.db") in line and "ostiary init" in line, line


def test_serve_without_migrations_refuses_an_old_schema_and_leaves_it(old_url):
    url, first = old_url
    done = subprocess.run([sys.executable, "-m", "ostiary", "serve", "--no-migrate", "--port", str(free_port())],
                          env=_clean_env(OSTIARY_DATABASE_URL=url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    line, = done.stderr.strip().splitlines()
    assert f"at schema {first}" in line and "ostiary migrate" in line, line
    assert _revision(url) == first


def test_a_schema_newer_than_this_ostiary_is_named_as_such(tmp_path):
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    store = open_store(url)
    store.migrate()
    with store.write() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    store.dispose()
    result = _run(["user", "list"], {"OSTIARY_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "9999" in result.output and "newer Ostiary" in result.output, result.output


def test_an_empty_database_says_to_run_init(tmp_path):
    name = create_pg_database()
    try:
        url = pg_url(name)
        result = _run(["group", "list"], {"OSTIARY_DATABASE_URL": url})
        assert result.exit_code == 1
        assert name in result.output and "no Ostiary schema" in result.output and "ostiary init" in result.output
        assert _revision(url) is None
    finally:
        drop_pg_database(name)


def test_the_absolute_path_is_shown_for_a_relative_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run(["tenant", "list"], {"OSTIARY_DATA_DIR": "rel/data"})
    assert result.exit_code == 1
    assert str(Path(tmp_path, "rel", "data", "ostiary.db")) in result.output
