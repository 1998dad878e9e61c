"""`ostiary serve` runs uvicorn with httptools unless told otherwise, or granian, on uvloop when it is
installed (an install dependency), falls back to asyncio where it is not, and
refuses a loop asked for by name that is missing or that the server does not run."""

from __future__ import annotations

import importlib.util
import click
import pytest

from ostiary import serving
from tests.support.server import OstiaryServer, free_port


def test_auto_is_uvloop_when_installed():
    assert importlib.util.find_spec("uvloop") is not None, "uvloop is an install dependency"
    assert serving.event_loop("auto") == "uvloop"
    assert serving.event_loop("asyncio") == "asyncio"


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch):
    # A platform without a uvloop wheel cannot be had here: hide the installed one from the lookup.
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a))
    assert serving.event_loop("auto") == "asyncio"
    with pytest.raises(click.ClickException, match="uvloop is not installed"):
        serving.event_loop("uvloop")
    with pytest.raises(click.ClickException, match="'nope' is not one of"):
        serving.event_loop("nope")


def test_uvicorn_runs_uvloop_or_asyncio_and_refuses_rloop_by_name():
    assert serving.event_loop("auto", "uvicorn") == "uvloop"
    assert serving.event_loop("asyncio", "uvicorn") == "asyncio"
    with pytest.raises(click.ClickException, match="uvicorn does not run rloop"):
        serving.event_loop("rloop", "uvicorn")


@pytest.mark.parametrize("server, named", [("granian", "granian"), ("uvicorn", "uvicorn (httptools)"),
                                           (None, "uvicorn (httptools)")])  # None: no --server given
@pytest.mark.parametrize("loop, module", [("auto", "uvloop"), ("asyncio", "asyncio.unix_events")])
def test_the_worker_runs_the_chosen_server_and_loop(tmp_path, loop, module, server, named):
    from ostiary.store import open_store

    url = f"sqlite:///{tmp_path / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    store.dispose()
    log = tmp_path / "serve.log"
    running = OstiaryServer({"OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_DATABASE_URL": url, "OSTIARY_DEV": "1",
                             "OSTIARY_EVENT_LOOP": loop, "OSTIARY_LOG_LEVEL": "info"}, free_port(), workers=1,
                            log_path=log, server=server)
    running.start(timeout=60)
    try:
        ready = [ln for ln in log.read_text().splitlines() if "ready: snapshot at change" in ln]
        assert ready and all(ln.endswith(f"server {named}, event loop {module}") for ln in ready), ready
        if loop == "auto":
            _idle_connection_outlives_five_seconds(running.port, server_header_allowed=server == "granian")
    finally:
        running.stop()


def _idle_connection_outlives_five_seconds(port: int, server_header_allowed: bool) -> None:
    """A proxy's pooled connection that sat idle longer than uvicorn's own 5 s default is still
    open (ostiary.serving.UVICORN_KEEP_ALIVE_SECONDS); under uvicorn no answer names the server
    (granian's own `server: granian` is not Ostiary's to remove)."""
    import http.client
    import time

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        first = conn.getresponse()
        first.read()
        assert first.status == 200, first.getheaders()
        assert server_header_allowed or first.getheader("server") is None, first.getheaders()
        sock = conn.sock
        time.sleep(6)
        conn.request("GET", "/healthz")  # raises RemoteDisconnected if the server closed it meanwhile
        second = conn.getresponse()
        second.read()
        assert second.status == 200 and conn.sock is sock
    finally:
        conn.close()
