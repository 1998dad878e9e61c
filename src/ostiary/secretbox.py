"""Secrets at rest: the one place stored credentials (signing keys, TOTP
secrets) are sealed before they are written and opened after they are read
(docs/operations.md, "Secrets at rest").

The key file named by OSTIARY_SECRET_KEY_FILE holds one or more Fernet keys,
one a line: the first seals, every one opens (cryptography's MultiFernet), so
a key file can list the new key above the old one while a rotation is under
way. Sealed values are stored as "enc1:" followed by the Fernet token; a value
without that prefix was written before a key was configured (or with none, in
development) and is read as it is until `ostiary serve` or `ostiary
secret-key rotate` seals it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "enc1:"
KEY_FILE_SETTING = "OSTIARY_SECRET_KEY_FILE"


class SecretKeyProblem(Exception):
    """The key file cannot be used; the message says why and the fix, in one line."""


class SecretsUnreadable(Exception):
    """A stored secret does not open with the configured key (or none is configured)."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def read_key_file(path: Path) -> list[str]:
    """The keys in `path`, first (the sealing key) first; refuses a file that holds none or a malformed one."""
    try:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise SecretKeyProblem(f"{path} cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SecretKeyProblem(f"{path} is not a key file: create one with `ostiary secret-key generate`") from None
    keys = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise SecretKeyProblem(f"{path} holds no key: create one with `ostiary secret-key generate`")
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            raise SecretKeyProblem(f"{path}: key {number} is not a Fernet key (32 url-safe base64-encoded bytes, "
                                   "as `ostiary secret-key generate` prints)") from None
    return keys


@dataclass(frozen=True)
class SecretBox:
    """Seals and opens stored secrets with the operator's key, or passes
    them through unchanged when no key is configured (development only)."""

    keys: tuple[str, ...] = ()
    source: str = ""  # the key file, for messages

    @classmethod
    def from_file(cls, path: Path | str | None) -> "SecretBox":
        if path is None or str(path) == "":
            return cls()
        return cls(tuple(read_key_file(Path(path))), str(Path(path).absolute()))

    @property
    def has_key(self) -> bool:
        return bool(self.keys)

    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in self.keys])

    def seal(self, plaintext: str) -> str:
        if not self.keys:
            return plaintext
        return PREFIX + self._fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        if not self.keys:
            raise SecretsUnreadable(f"the database holds encrypted secrets but {KEY_FILE_SETTING} is not set: "
                                    "set it to the key file they were encrypted with (docs/operations.md)")
        try:
            return self._fernet().decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretsUnreadable(f"{KEY_FILE_SETTING} ({self.source}) does not decrypt the secrets in the "
                                    "database: set it to the key file they were encrypted with "
                                    "(docs/operations.md)") from None

    def open_optional(self, stored: str | None) -> str | None:
        return None if stored is None else self.open(stored)


def is_sealed(stored: str | None) -> bool:
    return isinstance(stored, str) and stored.startswith(PREFIX)


def from_environment() -> SecretBox:
    """The box for OSTIARY_SECRET_KEY_FILE as the environment names it: what a
    store opened without an explicit box uses (the settings name the same file)."""
    return SecretBox.from_file(os.environ.get(KEY_FILE_SETTING) or None)
