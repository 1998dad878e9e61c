"""Fresh databases for tests: a migrated SQLite file copied per test, and a
PostgreSQL database cloned from a migrated template on the local server."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import psycopg

PG_ADMIN_DSN = os.environ.get("OSTIARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def _admin():
    return psycopg.connect(PG_ADMIN_DSN, autocommit=True)


def create_pg_database(template: str | None = None) -> str:
    name = f"ostiary_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def drop_pg_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_sqlite(template: Path, directory: Path) -> str:
    target = directory / "ostiary.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"
