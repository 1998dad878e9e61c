"""Argon2id at minimal cost for the passwords the tests hash in their own process.

A server verifies with the parameters stored in each hash, so a test person's
sign-in stays a real argon2id verification but takes milliseconds instead of a
quarter second of CPU (and the suite hashes and verifies thousands). What
Ostiary hashes in its own processes (a server, a CLI subprocess) keeps the
production parameters. tests/conftest.py turns this on for the whole suite;
the tests of the parameters themselves ask for `production_hashing`."""

from __future__ import annotations

from contextlib import contextmanager

from argon2 import PasswordHasher

from ostiary.services.base import passwords

PRODUCTION = passwords._hasher
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def use(hasher: PasswordHasher) -> None:
    passwords._hasher = hasher
    passwords.dummy_hash.cache_clear()  # the stand-in hash follows the hasher in use


@contextmanager
def production_hashing():
    saved = passwords._hasher
    use(PRODUCTION)
    try:
        yield
    finally:
        use(saved)
