"""`ostiary config check` (docs/configuration.md, "Checking the settings"):
the effective settings with where each came from and secrets redacted, and
every problem found at once — invalid values, then what only a running
installation shows (a missing or loose key file, a data directory others
can read, a database that is not ready, secrets the key does not open)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ostiary.config import ConfigError, Settings, load_settings
from ostiary.secretbox import SecretsUnreadable
from ostiary.store import open_store, sealed
from ostiary.store.connection_errors import explain_database_error
from ostiary.store.engine import DatabaseNotReady, sqlite_file

NO_SECRET_KEY = ("OSTIARY_SECRET_KEY_FILE is not set: `ostiary serve` refuses to start without it unless "
                 "OSTIARY_DEV=1; create one with `ostiary secret-key generate > FILE` (docs/operations.md)")


@dataclass
class Report:
    settings: list[tuple[str, str, str]] = field(default_factory=list)  # (setting, shown value, source)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _redacted(name: str, value: object) -> str:
    if value is None or value == "":
        return "(none)"
    if name == "database_url":
        try:
            return make_url(str(value)).render_as_string(hide_password=True)
        except ArgumentError:
            return "(hidden: not a URL)"
    return str(value)


def _source(name: str, settings: Settings | None) -> str:
    if os.environ.get(f"OSTIARY_{name.upper()}") is not None:
        return "environment"
    if settings is not None and name in settings.model_fields_set:
        return "file"
    return "default" if settings is not None else "file or default"


def _loose(path: Path, allowed: int) -> str | None:
    mode = stat.S_IMODE(path.stat().st_mode)
    return f"{mode:04o}" if mode & ~allowed else None


def _installation_problems(settings: Settings, report: Report) -> None:
    if settings.dev:
        report.notes.append("OSTIARY_DEV=1: http targets and insecure cookies are allowed; never in production")
    if settings.secret_key_file is None:
        if not settings.dev:
            report.problems.append(NO_SECRET_KEY)
    elif (mode := _loose(settings.secret_key_file, 0o750)) is not None:  # the service's group may read it
        report.problems.append(f"OSTIARY_SECRET_KEY_FILE {settings.secret_key_file} is open to others "
                               f"(mode {mode}): chmod 600 it (or 640, owned by root and the service's group)")
    url = settings.effective_database_url
    db_file = sqlite_file(url)
    if db_file is not None and db_file.parent.exists() and (mode := _loose(db_file.parent, 0o700)) is not None:
        report.problems.append(f"OSTIARY_DATA_DIR {db_file.parent.resolve()} is open to others (mode {mode}): "
                               "chmod 700 it, it holds the database")
    store = open_store(url, settings.secret_box())
    try:
        store.ensure_current()
        with store.read() as conn:
            unsealed = sealed.check_all(conn, store.box)
        if unsealed and store.box.has_key:
            report.notes.append(f"{unsealed} stored secret(s) are not encrypted yet: the next `ostiary serve` "
                                "encrypts them")
    except (DatabaseNotReady, SecretsUnreadable) as exc:
        report.problems.append(str(exc))
    except DBAPIError as exc:
        report.problems.append(explain_database_error(exc, url) or f"the database cannot be used: {exc.orig}")
    finally:
        store.dispose()


def check() -> Report:
    report = Report()
    settings: Settings | None = None
    try:
        settings = load_settings()
    except ConfigError as exc:
        report.problems.extend(exc.problems)
    for name, info in Settings.model_fields.items():
        if settings is not None:
            value = getattr(settings, name)
        else:  # invalid: show what was given, or the default
            value = os.environ.get(f"OSTIARY_{name.upper()}", info.default)
        report.settings.append((name, _redacted(name, value), _source(name, settings)))
    if settings is not None:
        _installation_problems(settings, report)
    return report
