"""The issuer's signing keys: one RS256 and one ES256 key sign at a time
(RS256 by default, as OpenID Connect requires every client to accept).
Private keys are sealed at rest by the secret box (ostiary/secretbox.py).
A rotation makes new keys sign at once; the old ones stay in the JWKS until
every ID token they signed has expired (docs/oidc-provider.md, "Keys")."""

from __future__ import annotations

import json
import secrets
import time

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import delete, insert, or_, select, update

from ostiary.issuer.clients import ACCESS_SECONDS
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, InvalidInput, Problem
from ostiary.store import Store
from ostiary.store.tables import audit_log, oidc_signing_keys

ALGORITHMS = ("RS256", "ES256")
DEFAULT_ALGORITHM = "RS256"
# No ID token lives longer than a client's longest access-token lifetime, plus the leeway verifiers allow.
LONGEST_TOKEN = ACCESS_SECONDS[1] + 300


def _generate(alg: str):
    kid = f"{alg.lower()}-{secrets.token_hex(6)}"
    params = {"kid": kid, "use": "sig", "alg": alg}
    return RSAKey.generate_key(2048, parameters=params) if alg == "RS256" else ECKey.generate_key("P-256",
                                                                                                   parameters=params)


def _insert(store: Store, conn, alg: str, now: float) -> str:
    key = _generate(alg)
    sealed = store.box.seal(json.dumps(key.as_dict(private=True)))
    conn.execute(insert(oidc_signing_keys).values(kid=key.kid, alg=alg, private_jwk=sealed, created_at=now))
    return key.kid


def ensure_keys(store: Store) -> None:
    """Creates a signing key for each algorithm that has none (at start, and before first use)."""
    with store.write() as conn:
        have = {r.alg for r in conn.execute(select(oidc_signing_keys.c.alg)
                                            .where(oidc_signing_keys.c.retired_at.is_(None)))}
        for alg in ALGORITHMS:
            if alg not in have:
                _insert(store, conn, alg, time.time())


# Keys already opened and parsed, by kid and sealed value. Parsing an RSA private key makes
# `cryptography` check it, which took 100-300 ms per ID token (bench/run case 6); a kid's key
# never changes, and a re-sealed value (secret-key rotation) is simply parsed again.
_OPENED: dict[tuple[str, str], object] = {}
_OPENED_MAX = 64  # a few keys per algorithm live at once; past this, start over


def _opened(store: Store, row):
    cache_key = (row.kid, row.private_jwk)
    key = _OPENED.get(cache_key)
    if key is None:
        key = KeySet.import_key_set({"keys": [json.loads(store.box.open(row.private_jwk))]}).keys[0]
        if len(_OPENED) >= _OPENED_MAX:
            _OPENED.clear()
        _OPENED[cache_key] = key
    return key


def signing_key(store: Store, alg: str = DEFAULT_ALGORITHM):
    """The key that signs `alg` now (created if there is none), as a joserfc key."""
    for _ in range(2):
        with store.read() as conn:
            row = conn.execute(select(oidc_signing_keys).where(oidc_signing_keys.c.alg == alg,
                                                               oidc_signing_keys.c.retired_at.is_(None))
                               .order_by(oidc_signing_keys.c.created_at.desc())).first()
        if row is not None:
            return _opened(store, row)
        ensure_keys(store)
    raise RuntimeError(f"no {alg} signing key could be created")


def public_jwks(store: Store) -> dict:
    """Every key that signs or signed a token that may still be valid: the JWKS document."""
    now = time.time()
    for _ in range(2):
        with store.read() as conn:
            rows = list(conn.execute(select(oidc_signing_keys).where(
                or_(oidc_signing_keys.c.drop_at.is_(None), oidc_signing_keys.c.drop_at > now))
                .order_by(oidc_signing_keys.c.created_at)))
        if rows:
            break
        ensure_keys(store)
    keys = [_opened(store, r) for r in rows]
    return {"keys": [k.as_dict(private=False) for k in keys]}


def list_keys(store: Store) -> list:
    with store.read() as conn:
        return list(conn.execute(select(oidc_signing_keys.c.kid, oidc_signing_keys.c.alg,
                                        oidc_signing_keys.c.created_at, oidc_signing_keys.c.retired_at,
                                        oidc_signing_keys.c.drop_at).order_by(oidc_signing_keys.c.created_at)))


def rotate_keys(store: Store, actor: Actor, overlap_seconds: int = LONGEST_TOKEN) -> list[str]:
    """New keys sign from now; the old ones stay published for `overlap_seconds`
    (by default until every token they signed has expired; 0 after a leak)."""
    if isinstance(overlap_seconds, bool) or not isinstance(overlap_seconds, int) \
            or not 0 <= overlap_seconds <= LONGEST_TOKEN:
        raise InvalidInput([Problem("overlap_seconds", N_("must be a whole number of seconds from 0 to %(max)d; "
                                                          "%(value)s is not"), max=LONGEST_TOKEN,
                                    value=repr(overlap_seconds))])
    now = time.time()
    with store.write() as conn:
        conn.execute(update(oidc_signing_keys).where(oidc_signing_keys.c.retired_at.is_(None))
                     .values(retired_at=now, drop_at=now + overlap_seconds))
        conn.execute(update(oidc_signing_keys).where(oidc_signing_keys.c.drop_at > now + overlap_seconds)
                     .values(drop_at=now + overlap_seconds))
        conn.execute(delete(oidc_signing_keys).where(oidc_signing_keys.c.drop_at < now - 86400))
        kids = [_insert(store, conn, alg, now) for alg in ALGORITHMS]
        conn.execute(insert(audit_log).values(
            tenant_id=None, at=now, actor=actor.name, actor_addr=actor.addr, action="oidc_keys.rotate",
            entity="key", entity_id=",".join(kids), detail=json.dumps({"overlap_seconds": overlap_seconds})))
    return kids
