"""Deployments for the scale-out tests: two `ostiary serve` instances (two
workers each) on a fresh PostgreSQL database behind a real nginx, and one
instance with four workers on SQLite. Started once and shared, since each
takes a few seconds; tests that kill or restart an instance leave it running."""

from __future__ import annotations

import pytest

from ostiary.store import open_store
from tests.scaleout.deployment import deployment
from tests.support.database import create_pg_database, drop_pg_database, pg_url


@pytest.fixture(scope="session")
def pg_deployment(tmp_path_factory):
    name = create_pg_database()
    url = pg_url(name)
    store = open_store(url)
    store.migrate()
    try:
        with deployment(tmp_path_factory.mktemp("pg-deployment"), url, store) as d:
            yield d
    finally:
        store.dispose()
        drop_pg_database(name)


@pytest.fixture(scope="module", params=["granian", "uvicorn"])  # both servers `ostiary serve --server` runs
def sqlite_deployment(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sqlite-deployment")
    url = f"sqlite:///{tmp / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    try:
        with deployment(tmp, url, store, instances=1, workers=4, with_nginx=False, server=request.param) as d:
            yield d
    finally:
        store.dispose()
