"""How long each way of signing in takes inside Ostiary, side by side in one
run: a password; a password then a TOTP code; an upstream OpenID provider
(npm `oidc-provider`, the one the tests use); an LDAP directory (Debian
`slapd`, the one the tests use). One `ostiary serve` (HTTPS, production
mode, 2 workers) on loopback; every figure is the time of Ostiary's answer
to the request that signs the person in, seen from the client on loopback.

    .venv/bin/python -m bench.signin_methods             # 30 of each
    .venv/bin/python -m bench.signin_methods --rounds 100

What each figure holds, besides Ostiary's own Python:
- password: one argon2id verification (its cost is the point: docs/contract.md §7);
- password + TOTP: the password request, then the code request (the sum);
- oidc: the callback request, which includes Ostiary's token request to the
  provider and the ID token's verification (the JWKS is cached after the
  first); the provider's own login page is not counted;
- ldap: the search and the bind at the directory (both on loopback, StartTLS).
Prints each method's median and 90th percentile in milliseconds; bench/run
runs it as part of case 6 (`measure`)."""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import pyotp

from ostiary.services.rules import groups, providers, second_factor, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules.providers import ProviderSettings
from ostiary.store import open_store
from tests.identity.conftest import TENANT_HOST, sign_in_at_provider
from tests.identity.ldap_server import PASSWORD as LDAP_PASSWORD
from tests.identity.ldap_server import READER_DN, READER_PASSWORD, USER_FILTER, Slapd
from tests.identity.oidc_provider import CLIENT_SECRET, OidcProvider
from tests.support.server import OstiaryServer, free_port, loopback_client
from tests.support.tls import issue_certificates

PASSWORD = "correct horse battery"


def _csrf(client, url: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(url).text).group(1)


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(work: Path, rounds: int) -> dict:
    """{method: {n, median_ms, p90_ms, runs_ms}}: `rounds` successful sign-ins of each method."""
    from bench.oidc_endpoints import summary

    work.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{work / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    tls = issue_certificates(work / "tls", [TENANT_HOST, "127.0.0.1", "localhost"])
    port = free_port()
    callback = f"https://{TENANT_HOST}:{port}/sign-in/with/idp/callback"
    accounts = {f"p{i}": {"email": f"p{i}@acme.test", "email_verified": True, "name": f"P {i}"}
                for i in range(rounds)}
    idp = OidcProvider("127.0.0.1", tls, work / "idp", redirect_uris=[callback], accounts=accounts)
    slapd = Slapd(tls, work / "slapd")
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    secrets_by_user = {}
    for i in range(rounds):
        users.add_user(store, tid, CLI_ACTOR, email=f"pw{i}@acme.test", password=PASSWORD)
        user = users.add_user(store, tid, CLI_ACTOR, email=f"otp{i}@acme.test", password=PASSWORD)
        secrets_by_user[user.email] = second_factor.new_secret()
        second_factor.enrol(store, tid, user.id, CLI_ACTOR, secrets_by_user[user.email], None)
    groups.add_group(store, tid, CLI_ACTOR, "staff")
    (work / "idp-secret").write_text(CLIENT_SECRET)
    (work / "ldap-secret").write_text(READER_PASSWORD)
    idp.start()
    slapd.start()
    server = None
    try:
        providers.add_provider(store, tid, CLI_ACTOR, "idp", ProviderSettings(
            preset="oidc", issuer=idp.issuer, client_id=idp.client_id, client_secret_ref=f"file:{work / 'idp-secret'}",
            scopes="openid email profile", account_policy="create", create_domains=["acme.test"]))
        providers.add_provider(store, tid, CLI_ACTOR, "corp", ProviderSettings(
            preset="ldap", issuer=slapd.url, client_id=READER_DN, client_secret_ref=f"file:{work / 'ldap-secret'}",
            start_tls=True, ca_file=str(tls.ca_cert), user_base="ou=people,dc=acme,dc=test", user_filter=USER_FILTER,
            account_policy="create", create_domains=["acme.test"]))
        store.dispose()
        env = {"OSTIARY_DATABASE_URL": url, "OSTIARY_PUBLIC_PORT": str(port), "OSTIARY_DATA_DIR": str(work),
               "SSL_CERT_FILE": str(tls.ca_cert), "OSTIARY_LOG_LEVEL": "warning"}
        server = OstiaryServer(env, port, workers=2, tls=(tls.cert_chain, tls.private_key),
                               log_path=work / "server.log")
        server.start(ready_host=TENANT_HOST, ca_cert=tls.ca_cert)
        base = f"https://{TENANT_HOST}:{port}"
        origin = {"origin": base, "sec-fetch-site": "same-origin"}
        times: dict[str, list[float]] = {"password": [], "password + totp": [], "oidc": [], "ldap": []}
        for i in range(rounds):
            with loopback_client(tls.ca_cert) as b:
                csrf = _csrf(b, base + "/sign-in")
                t, r = _timed(lambda: b.post(base + "/sign-in", headers=origin, data={
                    "login": f"pw{i}@acme.test", "password": PASSWORD, "csrf": csrf, "next": "/"}))
                assert r.status_code == 303, r.text
                times["password"].append(t)
            with loopback_client(tls.ca_cert) as b:
                email = f"otp{i}@acme.test"
                csrf = _csrf(b, base + "/sign-in")
                t1, r = _timed(lambda: b.post(base + "/sign-in", headers=origin, data={
                    "login": email, "password": PASSWORD, "csrf": csrf, "next": "/"}))
                assert r.status_code == 303 and "second-factor" in r.headers["location"], r.text
                csrf = _csrf(b, base + "/second-factor?next=/")
                code = pyotp.TOTP(secrets_by_user[email]).now()
                t2, r = _timed(lambda: b.post(base + "/second-factor", headers=origin, data={
                    "code": code, "csrf": csrf, "next": "/"}))
                assert r.status_code == 303, r.text
                times["password + totp"].append(t1 + t2)
            with loopback_client(tls.ca_cert) as b:
                r = b.get(base + "/sign-in/with/idp", params={"next": "/"})
                back = sign_in_at_provider(b, r.headers["location"], f"p{i}")
                t, r = _timed(lambda: b.get(back))
                assert r.status_code == 303, r.text
                times["oidc"].append(t)
            with loopback_client(tls.ca_cert) as b:
                csrf = _csrf(b, base + "/sign-in/directory/corp?next=/")
                t, r = _timed(lambda: b.post(base + "/sign-in/directory/corp", headers=origin, data={
                    "login": "alice", "password": LDAP_PASSWORD, "csrf": csrf, "next": "/"}))
                assert r.status_code == 303, r.text
                times["ldap"].append(t)
    finally:
        if server is not None:
            server.stop()
        idp.stop()
        slapd.stop()
    return {method: summary([t * 1000 for t in values]) for method, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.signin_methods")
    parser.add_argument("--rounds", type=int, default=30, help="sign-ins of each method")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ostiary-signin-methods-"))
    if "OSTIARY_SECRET_KEY_FILE" not in os.environ:  # production mode seals secrets, as bench/run does
        from ostiary.secretbox import generate_key

        (work / "secret.key").write_text(generate_key() + "\n")
        (work / "secret.key").chmod(0o600)
        os.environ["OSTIARY_SECRET_KEY_FILE"] = str(work / "secret.key")
    results = measure(work, args.rounds)
    print(f"sign-in by method, {args.rounds} each (ms; seen from the client on loopback)")
    print(f"{'method':<18}{'median':>10}{'p90':>10}")
    for method, s in results.items():
        print(f"{method:<18}{s['median_ms']:>10.1f}{s['p90_ms']:>10.1f}")


if __name__ == "__main__":
    main()
