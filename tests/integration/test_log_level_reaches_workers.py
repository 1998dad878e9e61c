"""OSTIARY_LOG_LEVEL reaches every worker, under granian and under uvicorn: each worker says it is
ready at info level and how it follows the change log at debug level, so
the level decides which of those lines appear."""

from __future__ import annotations

import pytest

from ostiary.store import open_store
from tests.support.server import OstiaryServer, free_port

READY = "ready: snapshot at change"  # info, once per worker
FOLLOWING = "following the change log every"  # debug, once per worker


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("log-level")
    store = open_store(f"sqlite:///{tmp / 'ostiary.db'}")
    store.migrate()
    store.dispose()
    return tmp


@pytest.fixture(params=["granian", "uvicorn"])
def server(request) -> str:
    return request.param


def _worker_log(database, server: str, level: str | None, workers: int = 2) -> str:
    port = free_port()
    log = database / f"server-{server}-{level}.log"
    env = {"OSTIARY_DATA_DIR": str(database), "OSTIARY_DEV": "1", "OSTIARY_PUBLIC_PORT": str(port)}
    if level is not None:
        env["OSTIARY_LOG_LEVEL"] = level
    running = OstiaryServer(env, port, workers=workers, log_path=log, server=server).start()
    running.stop()
    return log.read_text()


def test_by_default_each_worker_logs_at_info(database, server):
    text = _worker_log(database, server, None)
    assert text.count(READY) == 2, text
    assert FOLLOWING not in text


def test_debug_reaches_every_worker(database, server):
    text = _worker_log(database, server, "debug")
    assert text.count(READY) == 2 and text.count(FOLLOWING) == 2, text


def test_warning_silences_the_workers_info_lines(database, server):
    text = _worker_log(database, server, "warning")
    assert READY not in text and FOLLOWING not in text, text
