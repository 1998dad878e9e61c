"""Fixtures shared by every test: fresh databases on SQLite and on the local
PostgreSQL (each store test runs on both), and a migrated store; and the
order test files run in (tests/support/ordering.py: the slowest first)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ostiary.store import open_store
from tests.support import hashing, ordering
from tests.support.database import copy_sqlite, create_pg_database, drop_pg_database, pg_url

# Every store and server of the tests seals its secrets with one test key, as
# production does (docs/operations.md, "Secrets at rest"); subprocess servers
# inherit it. Tests of the key itself set their own.
_TEST_KEY_FILE = Path(tempfile.mkdtemp(prefix="ostiary-test-key-")) / "secret.key"
_TEST_KEY_FILE.write_text(Fernet.generate_key().decode() + "\n")
os.environ.setdefault("OSTIARY_SECRET_KEY_FILE", str(_TEST_KEY_FILE))

# Test people's passwords are hashed at minimal argon2id cost (tests/support/hashing.py).
hashing.use(hashing.CHEAP)

ARTIFACTS = Path(os.environ.get("OSTIARY_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "ostiary.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template():
    name = create_pg_database()
    store = open_store(pg_url(name))
    store.migrate()
    store.dispose()
    yield name
    drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        yield copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    name = create_pg_database(template=request.getfixturevalue("pg_template"))
    yield pg_url(name)
    drop_pg_database(name)


@pytest.fixture
def store(db_url):
    s = open_store(db_url)
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def pytest_configure(config) -> None:
    out = os.environ.get("OSTIARY_TEST_DURATIONS_OUT")
    if out:
        config.pluginmanager.register(ordering.DurationRecorder(Path(out).resolve()), "ostiary-durations")


def pytest_collection_modifyitems(config, items) -> None:
    ordering.slowest_files_first(items, ordering.load_durations())
