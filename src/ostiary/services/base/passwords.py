"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ostiary.services.base.errors import N_, Message

_hasher = PasswordHasher()  # argon2id by default


@functools.cache
def dummy_hash() -> str:
    """Verified against when the account does not exist, so both paths cost the same.
    Made once per process when first needed, not at import (a quarter second of CPU that
    every CLI command paid); each worker makes it at start (app.py), before its first sign-in."""
    return _hasher.hash("ostiary-timing-equaliser")

MIN_LENGTH = 10
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> Message | None:
    if len(password) < MIN_LENGTH:
        return Message(N_("must be at least %(min)d characters long: choose a longer passphrase"), min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return Message(N_("must be at most %(max)d characters long"), max=MAX_LENGTH)
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return Message(N_("must not contain control characters (check for a trailing newline in the file)"))
    return None
