"""Client secrets are never stored: a provider names where its secret is,
"file:/absolute/path" or "env:VARIABLE", and it is read when used."""

from __future__ import annotations

import os
import re
from pathlib import Path

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class SecretUnavailable(Exception):
    pass


def secret_ref_problem(ref: str) -> str | None:
    kind, sep, where = (ref or "").partition(":")
    if not sep or kind not in ("file", "env"):
        return 'must be "file:/absolute/path" or "env:VARIABLE_NAME"'
    if kind == "file" and not Path(where).is_absolute():
        return f'"{where}" is not an absolute path: give the full path of the file holding the secret'
    if kind == "env" and not ENV_NAME.match(where):
        return f'"{where}" is not an environment variable name (letters, digits and _)'
    return None


def read_secret(ref: str) -> str:
    """The secret itself; SecretUnavailable names the reference (never the value) when it cannot be read."""
    problem = secret_ref_problem(ref)
    if problem:
        raise SecretUnavailable(f"client secret {ref!r}: {problem}")
    kind, _, where = ref.partition(":")
    if kind == "env":
        value = os.environ.get(where, "")
        if not value:
            raise SecretUnavailable(f"client secret: the environment variable {where} is not set for this server")
        return value
    try:
        value = Path(where).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretUnavailable(f"client secret: cannot read {where}: {exc.strerror}") from None
    if not value:
        raise SecretUnavailable(f"client secret: {where} is empty")
    return value
