"""The issuer parses each signing key once per process: parsing an RSA
private key (with `cryptography`'s checks) cost 100-300 ms per ID token
(bench/run case 6). A rotation still switches keys at once."""

from __future__ import annotations

from ostiary.issuer import keys
from ostiary.services.base.actor import CLI_ACTOR


def test_the_signing_key_is_parsed_once_and_a_rotation_switches_at_once(store):
    store.migrate()
    first = keys.signing_key(store)
    assert keys.signing_key(store) is first  # the same parsed key, not a second parse
    published = {k["kid"] for k in keys.public_jwks(store)["keys"]}
    assert first.kid in published

    keys.rotate_keys(store, CLI_ACTOR, 60)
    after = keys.signing_key(store)
    assert after.kid != first.kid and after is not first
    assert {first.kid, after.kid} <= {k["kid"] for k in keys.public_jwks(store)["keys"]}
    assert all("d" not in k for k in keys.public_jwks(store)["keys"])  # public halves only

    keys.rotate_keys(store, CLI_ACTOR, 0)
    assert first.kid not in {k["kid"] for k in keys.public_jwks(store)["keys"]}
