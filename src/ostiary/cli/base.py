"""What every command shares: settings and store opened on first use, one
way to refuse (a message naming the field and the rule, nothing written,
and the exit status saying which kind of refusal: `ExitCode`), one way to
say the database is not ready (a line naming it and the fix, exit status
1), the `--tenant` and `--json` options, and how lists and records print
(docs/cli.md)."""

from __future__ import annotations

import json
import sys
from enum import IntEnum
from functools import wraps
from typing import Any, Iterable, Sequence
from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError

from ostiary.config import ConfigError, Settings, load_settings
from ostiary.secretbox import SecretsUnreadable
from ostiary.services.rules import keys as keys_service
from ostiary.services.rules import tenants as tenants_service
from ostiary.services.base.errors import Conflict, InvalidInput, MailUnavailable, NotFound, ServiceError
from ostiary.services.base.input_limits import shown, unstorable_character_problem
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
            from ostiary.services.rules import change_notices

            change_notices.install_notifications(self.settings)  # `user second-factor reset` tells the person by email
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


class ExitCode(IntEnum):
    """Every command's exit status, in one place (docs/cli.md, "Exit status")."""
    OK = 0
    FAILURE = 1  # the work could not be done: database unreachable, DNS unanswered, doctor found problems
    INVALID_INPUT = 2  # bad input or settings (click's own usage errors are 2 as well)
    NOT_FOUND = 3  # a named user, group, app, domain, ... does not exist
    CONFLICT = 4  # the change clashes with what is there: a duplicate, the last admin, a group in use


def exit_code_for(exc: ServiceError) -> ExitCode:
    """The one mapping from a service-layer refusal to an exit status."""
    if isinstance(exc, NotFound):
        return ExitCode.NOT_FOUND
    if isinstance(exc, Conflict):
        return ExitCode.CONFLICT
    return ExitCode.INVALID_INPUT


def fail(message: str, status: int = ExitCode.INVALID_INPUT) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(int(status))


def _database_url() -> str:
    return click.get_current_context().ensure_object(Context).settings.effective_database_url


def handles_errors(fn):
    """Turns refusals into one clear message and the exit status of their kind
    (`exit_code_for`), and a database that is missing, behind or unreachable
    into one line and exit status 1."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc))
        except InvalidInput as exc:
            fail("\n  ".join(["the input is not valid:", *(str(p) for p in exc.problems)]))
        except MailUnavailable as exc:
            fail(f"{exc} (nothing was changed)", ExitCode.FAILURE)
        except ServiceError as exc:
            fail(str(exc), exit_code_for(exc))
        except (DatabaseNotReady, SecretsUnreadable) as exc:
            fail(str(exc), ExitCode.FAILURE)
        except DBAPIError as exc:
            message = explain_database_error(exc, _database_url())
            if message is None:
                raise
            fail(message, ExitCode.FAILURE)

    return wrapper


pass_ctx = click.make_pass_decorator(Context, ensure=True)
tenant_option = click.option("--tenant", "tenant", default=None, help="Tenant slug (default: the only tenant).")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of a table (field names in docs/cli.md).")


def print_json(value: Any) -> None:
    """One JSON document on stdout: a list for `list` commands, an object for
    `show` commands. Pydantic models (the API's shapes) print as the API answers them."""
    click.echo(json.dumps(_plain(value), indent=2, ensure_ascii=False))


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "") -> None:
    """Rows under a header line, columns padded to line up; `empty` (when
    given) instead of a lone header when there are no rows."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells and empty:
        click.echo(empty)
        return
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def print_record(pairs: Sequence[tuple[str, Any]]) -> None:
    """One thing, a field per line: `name:  value`."""
    width = max((len(k) for k, _ in pairs), default=0) + 1
    for key, value in pairs:
        click.echo(f"{(key + ':').ljust(width)}  {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    text = str(value)
    return text.replace("\n", " ").replace("\t", " ") if text else "-"


def utc(at: float | None, seconds: bool = False) -> str:
    import datetime

    if at is None:
        return "-"
    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def waiting(message: str) -> None:
    """Says on stderr what a long wait is for, so stdout (and --json) stays clean."""
    click.echo(f"{message}…", err=True)


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

