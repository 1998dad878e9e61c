"""Starting the server: migrations once in the parent, then uvicorn (the
default) or granian with one snapshot per worker (docs/configuration.md,
"Serving")."""

from __future__ import annotations

import os

import click

from ostiary.config import Settings
from ostiary.services.rules import keys as keys_service
from ostiary.services.rules import shared_cookie
from ostiary.store import Store, open_store
from ostiary.store import sealed

APP_FACTORY = "ostiary.app:create_app_from_env"
RUN_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


NO_SECRET_KEY = ("OSTIARY_SECRET_KEY_FILE is not set: production keeps signing keys and TOTP secrets encrypted "
                 "at rest; create a key with `ostiary secret-key generate > FILE` (owner-only) and set "
                 "OSTIARY_SECRET_KEY_FILE=FILE, or set OSTIARY_DEV=1 for a local trial (docs/operations.md)")


def prepare_secrets(store: Store, settings: Settings) -> None:
    """Refuse production without a key, and a key that does not open the stored
    secrets; seal the secrets written before the key was configured."""
    if not settings.dev and not store.box.has_key:
        raise click.ClickException(NO_SECRET_KEY)
    with store.write() as conn:
        unsealed = sealed.check_all(conn, store.box)  # raises SecretsUnreadable, naming the key setting
        if unsealed and store.box.has_key:
            sealed.reseal_all(conn, store.box, store.box, only_unsealed=True)
            click.echo(f"sealed {unsealed} stored secret(s) with OSTIARY_SECRET_KEY_FILE", err=True)


def prepare_database(settings: Settings, migrate: bool) -> None:
    """Migrate an existing installation (or refuse one not current with --no-migrate);
    a missing one is refused: `ostiary init` creates it (docs/upgrading.md)."""
    store = open_store(settings.effective_database_url, settings.secret_box())
    try:
        if migrate:
            store.ensure_installed()
            store.migrate()
        else:
            store.ensure_current()
        prepare_secrets(store, settings)
        keys_service.ensure_signing_key(store)
        keys_service.record_overlap(store, settings.key_overlap_seconds)
        refused = shared_cookie.startup_problems(store)
        if refused:
            raise click.ClickException("shared-cookie identity sources refused:\n  " + "\n  ".join(refused))
    finally:
        store.dispose()


# The event loops granian can drive, fastest first as bench/ measured them (BENCHMARKS.md,
# "Event loop and interface"): uvloop is an install dependency where it builds; asyncio always works.
# uvicorn drives uvloop and asyncio only.
LOOPS = ("uvloop", "rloop", "asyncio")
AUTO_LOOPS = ("uvloop", "asyncio")
# `ostiary serve --server`'s choices, the default first, and the loops each drives.
SERVER_LOOPS = {"uvicorn": ("uvloop", "asyncio"), "granian": LOOPS}
DEFAULT_SERVER = next(iter(SERVER_LOOPS))

# uvicorn keeps an idle connection this long (its own default is 5 s). Longer than the proxies'
# idle timeouts for their pooled upstream connections (nginx 60 s, Traefik 90 s, Caddy 2 min), so
# the proxy, not Ostiary, closes an idle one and never sends a check down a connection being closed.
UVICORN_KEEP_ALIVE_SECONDS = 125
# How `ostiary serve --server uvicorn` runs uvicorn (bench/bare_app.py serves its floor the same way).
# httptools parses HTTP in C (an install dependency; uvicorn's fallback, h11, parses it in Python at
# several times the cost per check), in uvicorn's httptools protocol with a plain check answered while
# its headers are parsed (gate/uvicorn_protocol.py). No Server header; the proxy's X-Forwarded-* are
# Ostiary's to read.
UVICORN_HTTP = "ostiary.gate.uvicorn_protocol:GateProtocol"
UVICORN_OPTIONS = {"http": UVICORN_HTTP, "timeout_keep_alive": UVICORN_KEEP_ALIVE_SECONDS, "server_header": False,
                   "proxy_headers": False, "access_log": False}


def event_loop(choice: str = "auto", server: str = DEFAULT_SERVER) -> str:
    """The loop `ostiary serve` runs: the one asked for, or for "auto" the first of
    AUTO_LOOPS that is installed. A loop asked for by name must be installed and
    driven by the server."""
    import importlib.util

    if choice == "asyncio":
        return choice
    if choice != "auto":
        if choice not in LOOPS:
            raise click.ClickException(f"--loop / OSTIARY_EVENT_LOOP: {choice!r} is not one of {', '.join(LOOPS)}")
        if choice not in SERVER_LOOPS[server]:
            raise click.ClickException(f"--loop / OSTIARY_EVENT_LOOP: {server} does not run {choice}; choose one of "
                                       f"{', '.join(SERVER_LOOPS[server])} or auto, or --server granian")
        if importlib.util.find_spec(choice) is None:
            raise click.ClickException(f"--loop / OSTIARY_EVENT_LOOP: {choice} is not installed "
                                       f"(pip install {choice}, or --loop auto)")
        return choice
    return next(name for name in AUTO_LOOPS if name == "asyncio" or importlib.util.find_spec(name) is not None)


def run_server(settings: Settings, *, host: str, port: int, workers: int, migrate: bool, server: str,
               tls: tuple[str, str] | None = None, loop: str = "auto") -> None:
    from ostiary.observability import logs

    chosen_loop = event_loop(loop, server)  # a wrong choice stops before migrating
    logs.configure(settings.log_level, settings.log_format)
    prepare_database(settings, migrate)
    if settings.dev:
        import logging

        logging.getLogger("ostiary").warning(
            "OSTIARY_DEV=1: http targets and insecure cookies are allowed; never use this in production")
    # Workers re-read the settings from the environment; make the data dir absolute for them.
    os.environ.setdefault("OSTIARY_DATA_DIR", str(settings.data_dir.resolve()))
    run = _start_metrics(settings, host, port, workers)
    try:
        _serve(settings, host=host, port=port, workers=workers, server=server, tls=tls, loop=chosen_loop)
    finally:
        run.stop()


class _MetricsRun:
    """The per-run metrics directory, its listener and the "ready" watch (observability/metrics.py)."""

    def __init__(self, directory, stop):
        self.directory, self._stop = directory, stop

    def stop(self) -> None:
        self._stop.set()
        self.directory.close()
        os.environ.pop(RUN_DIR_ENV, None)


def _start_metrics(settings: Settings, host: str, port: int, workers: int) -> _MetricsRun:
    import logging
    import threading

    from ostiary.observability.metrics import RunDirectory

    directory = RunDirectory(settings.effective_database_url)
    os.environ[RUN_DIR_ENV] = str(directory.path)  # the workers inherit it
    address = settings.metrics_address
    if address is not None:
        try:
            directory.listen(*address)
        except OSError as exc:  # metrics are no reason to refuse sign-ins: say so loudly and serve
            logging.getLogger("ostiary.metrics").error(
                "metrics listener OSTIARY_METRICS_LISTEN=%s could not start (%s): metrics are not served; "
                "choose a free port (docs/operations.md, \"Metrics\")", settings.metrics_listen, exc.strerror)
    stop = threading.Event()
    directory.announce_ready(workers, f"{host}:{port}", stop)
    return _MetricsRun(directory, stop)


def _serve(settings: Settings, *, host: str, port: int, workers: int, server: str,
           tls: tuple[str, str] | None, loop: str | None) -> None:
    from ostiary.observability import logs

    if server == "uvicorn":
        import uvicorn

        # Its supervisor restarts a worker that dies, as granian's does.
        uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level=settings.log_level,
                    log_config=logs.dictconfig(settings.log_level, settings.log_format), loop=loop or "auto",
                    ssl_certfile=tls[0] if tls else None, ssl_keyfile=tls[1] if tls else None, **UVICORN_OPTIONS)
        return
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from pathlib import Path

    ssl = {"ssl_cert": Path(tls[0]), "ssl_key": Path(tls[1])} if tls else {}
    from granian.log import LogLevels

    # Every worker applies this logging configuration before it loads the app: one level, one format.
    Granian(APP_FACTORY, address=host, port=port, interface=Interfaces.ASGI, workers=workers, factory=True,
            loop=Loops(loop), log_access=False, log_level=LogLevels(settings.log_level),
            log_dictconfig=logs.dictconfig(settings.log_level, settings.log_format),
            respawn_failed_workers=True, **ssl).serve()
