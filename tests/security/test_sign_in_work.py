"""An unknown account costs a sign-in the same work as a wrong password: one
argon2id verification, against a hash made with the same parameters. Checked
by counting, not by a clock, so it holds on a loaded machine; the times
themselves are compared side by side in bench/signin_timing.py."""

from __future__ import annotations

import argon2
import pytest

from ostiary.services.base import passwords
from ostiary.services.rules import tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from tests.support.hashing import production_hashing

PASSWORD = "correct horse battery"


class CountingHasher(argon2.PasswordHasher):
    """The real argon2id hasher, counting what it verifies against."""

    def __init__(self, real: argon2.PasswordHasher) -> None:
        super().__init__(time_cost=real.time_cost, memory_cost=real.memory_cost, parallelism=real.parallelism,
                         hash_len=real.hash_len, salt_len=real.salt_len, type=real.type)
        self.verified: list[str] = []

    def verify(self, hash, password):  # noqa: A002  (argon2's own parameter name)
        self.verified.append(hash)
        return super().verify(hash, password)


@pytest.fixture
def counting(monkeypatch):
    hasher = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    return hasher


@pytest.fixture
def acme(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    users.add_user(store, tid, CLI_ACTOR, email="known@acme.test", password=PASSWORD)
    return tid


def test_an_unknown_account_and_a_wrong_password_each_verify_one_argon2id_hash(store, acme, counting):
    assert users.authenticate(store, acme, "nobody@acme.test", "not the password") is None
    unknown = list(counting.verified)
    counting.verified.clear()
    assert users.authenticate(store, acme, "known@acme.test", "not the password") is None
    wrong = list(counting.verified)
    assert len(unknown) == len(wrong) == 1
    assert argon2.extract_parameters(unknown[0]) == argon2.extract_parameters(wrong[0])


def test_the_stand_in_hash_costs_what_a_real_one_costs():
    with production_hashing():  # the suite hashes its own people cheaply (tests/support/hashing.py)
        real = passwords.hash_password(PASSWORD)
        assert argon2.extract_parameters(passwords.dummy_hash()) == argon2.extract_parameters(real)
    assert argon2.extract_parameters(real).type is argon2.Type.ID
    assert argon2.extract_parameters(real) == argon2.profiles.RFC_9106_LOW_MEMORY


def test_a_worker_makes_the_stand_in_hash_before_its_first_sign_in(store, db_url, tmp_path):
    """Made at worker start (app.py), not at the first unknown login, which would then cost a hash on top
    of the verification: the only sign-in whose work would differ."""
    import asyncio

    from ostiary.app import create_app
    from ostiary.config import Settings

    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    passwords.dummy_hash.cache_clear()
    app = create_app(Settings(database_url=db_url, data_dir=tmp_path))

    async def started() -> int:
        async with app._lifespan(None):
            return passwords.dummy_hash.cache_info().currsize

    assert asyncio.run(started()) == 1
