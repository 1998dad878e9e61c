"""What every command shares: settings and store opened on first use, one
way to refuse bad input (a message naming the field and the rule, exit
status 2, nothing written), one way to say the database is not ready (a
line naming it and the fix, exit status 1), and the `--tenant` option."""

from __future__ import annotations

import sys
from functools import wraps
from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError

from ostiary.config import ConfigError, Settings, load_settings
from ostiary.secretbox import SecretsUnreadable
from ostiary.services import keys as keys_service
from ostiary.services import tenants as tenants_service
from ostiary.services.errors import InvalidInput, ServiceError
from ostiary.services.input_limits import shown, unstorable_character_problem
from ostiary.store import Store, open_store
from ostiary.store.connection_errors import explain_database_error
from ostiary.store.engine import DatabaseNotReady


class Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def store(self) -> Store:
        """The installation's database as it is: only `init` and `migrate`
        create or migrate one (docs/upgrading.md)."""
        if self._store is None:
            store = open_store(self.settings.effective_database_url, self.settings.secret_box())
            try:
                store.ensure_current()
            except BaseException:
                store.dispose()
                raise
            self._store = store
            # Sessions a command ends reach the OIDC clients' back-channel URIs too (docs/oidc-provider.md).
            from ostiary.issuer import logout

            logout.install(self.settings.public_url, wait=True)
        return self._store

    def migrated_store(self) -> Store:
        """For `init` and `migrate`: the database, created when missing, at the current schema."""
        if self._store is None:
            store = open_store(self.settings.effective_database_url, self.settings.secret_box())
            try:
                store.migrate()
                keys_service.ensure_signing_key(store)
            except BaseException:
                store.dispose()
                raise
            self._store = store
        return self._store

    def tenant_id(self, slug: str | None) -> int:
        return tenants_service.resolve_tenant(self.store, slug).id


def fail(message: str, status: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def _database_url() -> str:
    return click.get_current_context().ensure_object(Context).settings.effective_database_url


def handles_errors(fn):
    """Turns refusals into one clear message and exit status 2, and a database
    that is missing, behind or unreachable into one line and exit status 1."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc))
        except InvalidInput as exc:
            fail("\n  ".join(["the input is not valid:", *(str(p) for p in exc.problems)]))
        except ServiceError as exc:
            fail(str(exc))
        except (DatabaseNotReady, SecretsUnreadable) as exc:
            fail(str(exc), status=1)
        except DBAPIError as exc:
            message = explain_database_error(exc, _database_url())
            if message is None:
                raise
            fail(message, status=1)

    return wrapper


pass_ctx = click.make_pass_decorator(Context, ensure=True)
tenant_option = click.option("--tenant", "tenant", default=None, help="Tenant slug (default: the only tenant).")


def read_secret_file(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{what}: cannot read {path}: {exc.strerror}")
    return text.rstrip("\r\n")


class RefusesUnstorableArguments(click.Group):
    """Every argument of every command is checked once, here, before any
    command parses it: NUL cannot come through argv, but bytes that are not
    UTF-8 arrive as lone surrogates, which neither database can store."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for position, arg in enumerate(args, 1):
            problem = unstorable_character_problem(arg)
            if problem:
                hint = " (the bytes are not valid UTF-8)" if any(0xDC80 <= ord(c) <= 0xDCFF for c in arg) else ""
                fail(f'argument {position} "{shown(arg)}"{hint}: {problem}')
        return super().parse_args(ctx, args)


@click.group(cls=RefusesUnstorableArguments)
@click.version_option(package_name="ostiary")
def main() -> None:
    """Ostiary: single sign-on at the reverse proxy."""

