"""Starting the server: migrations once in the parent, then granian (or
uvicorn for development) with one snapshot per worker."""

from __future__ import annotations

import os

import click

from ostiary.config import Settings
from ostiary.services import external_identity
from ostiary.services import keys as keys_service
from ostiary.store import Store, open_store
from ostiary.store import sealed

APP_FACTORY = "ostiary.app:create_app_from_env"


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
        refused = external_identity.startup_problems(store)
        if refused:
            raise click.ClickException("external identity sources refused:\n  " + "\n  ".join(refused))
    finally:
        store.dispose()


# The event loops granian can drive, fastest first as bench/ measured them (BENCHMARKS.md,
# "Event loop and interface"): uvloop is an install dependency where it builds; asyncio always works.
LOOPS = ("uvloop", "rloop", "asyncio")
AUTO_LOOPS = ("uvloop", "asyncio")


def event_loop(choice: str = "auto") -> str:
    """The loop `ostiary serve` runs: the one asked for, or for "auto" the first of
    AUTO_LOOPS that is installed. A loop asked for by name must be installed."""
    import importlib.util

    if choice == "asyncio":
        return choice
    if choice != "auto":
        if choice not in LOOPS:
            raise click.ClickException(f"--loop / OSTIARY_EVENT_LOOP: {choice!r} is not one of {', '.join(LOOPS)}")
        if importlib.util.find_spec(choice) is None:
            raise click.ClickException(f"--loop / OSTIARY_EVENT_LOOP: {choice} is not installed "
                                       f"(pip install {choice}, or --loop auto)")
        return choice
    return next(name for name in AUTO_LOOPS if name == "asyncio" or importlib.util.find_spec(name) is not None)


def run_server(settings: Settings, *, host: str, port: int, workers: int, migrate: bool, server: str,
               tls: tuple[str, str] | None = None, loop: str = "auto") -> None:
    chosen_loop = event_loop(loop) if server == "granian" else None  # a wrong choice stops before migrating
    prepare_database(settings, migrate)
    if settings.dev:
        click.echo("warning: OSTIARY_DEV=1: http targets and insecure cookies are allowed; never use this in production",
                   err=True)
    # Workers re-read the settings from the environment; make the data dir absolute for them.
    os.environ.setdefault("OSTIARY_DATA_DIR", str(settings.data_dir.resolve()))
    if server == "uvicorn":
        try:
            import uvicorn
        except ImportError:
            raise click.ClickException("--server uvicorn is for development and needs `pip install 'ostiary[dev]'`; "
                                       "production uses granian (the default)") from None

        uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level=settings.log_level,
                    proxy_headers=False, access_log=False, ssl_certfile=tls[0] if tls else None,
                    ssl_keyfile=tls[1] if tls else None)
        return
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from pathlib import Path

    ssl = {"ssl_cert": Path(tls[0]), "ssl_key": Path(tls[1])} if tls else {}
    from granian.log import LogLevels

    # Workers read OSTIARY_LOG_LEVEL themselves (create_app_from_env); this sets granian's own logger.
    Granian(APP_FACTORY, address=host, port=port, interface=Interfaces.ASGI, workers=workers, factory=True,
            loop=Loops(chosen_loop), log_access=False, log_level=LogLevels(settings.log_level), respawn_failed_workers=True, **ssl).serve()
