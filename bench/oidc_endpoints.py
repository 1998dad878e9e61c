"""Ostiary as an OpenID Connect provider (docs/oidc-provider.md): how long its
token endpoint takes for an authorization-code exchange and a refresh-token
grant, and its userinfo endpoint, against one `ostiary serve` (HTTPS,
production mode, one worker) on SQLite and on PostgreSQL. Every figure is
the time of Ostiary's answer seen from a keep-alive client on loopback.

    .venv/bin/python -m bench.oidc_endpoints             # 30 of each, SQLite and PostgreSQL
    .venv/bin/python -m bench.oidc_endpoints --rounds 100 --databases sqlite

What each figure holds, besides the HTTP exchange on loopback:
- authorization_code: the client's secret checked, the code claimed once (one
  UPDATE), PKCE, the ID token signed (RS256) and the access and refresh tokens stored;
- refresh_token: the client's secret, the refresh token rotated (its family
  kept), new tokens stored and a new ID token signed;
- userinfo: the bearer token looked up (by its SHA-256), its session, person
  and grant checked, the claims built.
The code itself comes from the authorization endpoint for a signed-in
browser and is not timed. bench/run runs this as case 6."""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import secrets
import statistics
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ostiary.issuer import clients
from ostiary.services.rules import groups, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store import open_store
from tests.support.server import OstiaryServer, free_port, loopback_client
from tests.support.tls import issue_certificates

PASSWORD = "correct horse battery"
TENANT_HOST = "acme.id.bench.test"
CALLBACK = "https://grafana.bench.test/login/generic_oauth"
ENDPOINTS = ("authorization_code", "refresh_token", "userinfo")


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def summary(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {"n": len(ms), "median_ms": statistics.median(ms), "p90_ms": ordered[min(len(ms) - 1, int(0.9 * len(ms)))],
            "runs_ms": [round(x, 2) for x in ms]}


def measure(url: str, work: Path, rounds: int) -> dict:
    """{endpoint: {n, median_ms, p90_ms, runs_ms}} against a fresh installation at `url`."""
    store = open_store(url)
    store.migrate()
    tenants.init_installation(store, "id.bench.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    users.add_user(store, tid, CLI_ACTOR, email="alice@acme.test", password=PASSWORD)
    groups.add_group(store, tid, CLI_ACTOR, "staff")
    groups.add_member(store, tid, CLI_ACTOR, "staff", "alice@acme.test")
    client = clients.add_client(store, tid, CLI_ACTOR, "grafana", clients.ClientSettings(
        redirect_uris=[CALLBACK], scopes="openid profile email groups offline_access", groups=["staff"],
        skip_consent=True))
    client_id, secret = client.row.client_id, client.secret
    store.dispose()
    tls = issue_certificates(work / "tls-oidc", [TENANT_HOST, "127.0.0.1", "localhost"])
    port = free_port()
    env = {"OSTIARY_DATABASE_URL": url, "OSTIARY_PUBLIC_PORT": str(port), "OSTIARY_DATA_DIR": str(work),
           "SSL_CERT_FILE": str(tls.ca_cert), "OSTIARY_LOG_LEVEL": "warning"}
    server = OstiaryServer(env, port, workers=1, tls=(tls.cert_chain, tls.private_key),
                           log_path=work / f"ostiary-oidc-{port}.log")
    server.start(ready_host=TENANT_HOST, ca_cert=tls.ca_cert, timeout=60)
    base = f"https://{TENANT_HOST}:{port}"
    times: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    try:
        with loopback_client(tls.ca_cert) as browser, loopback_client(tls.ca_cert) as rp:
            page = browser.get(base + "/sign-in")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            r = browser.post(base + "/sign-in", headers={"origin": base, "sec-fetch-site": "same-origin"},
                             data={"login": "alice@acme.test", "password": PASSWORD, "csrf": csrf, "next": "/"})
            if r.status_code != 303:
                raise RuntimeError(f"signing in for the OIDC benchmark failed: {r.status_code}")
            rp.get(base + "/.well-known/openid-configuration")  # the connection, warm
            for _ in range(rounds):
                verifier = secrets.token_urlsafe(48)
                r = browser.get(base + "/oidc/authorize", params={
                    "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK,
                    "scope": "openid profile email groups offline_access", "state": secrets.token_urlsafe(8),
                    "nonce": secrets.token_urlsafe(8), "code_challenge": _s256(verifier),
                    "code_challenge_method": "S256"})
                if r.status_code not in (302, 303) or not r.headers["location"].startswith(CALLBACK):
                    raise RuntimeError(f"the authorization endpoint gave no code: {r.status_code} {r.text[:300]}")
                code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
                ms, r = _timed(lambda: rp.post(base + "/oidc/token", auth=(client_id, secret), data={
                    "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                    "code_verifier": verifier}))
                if r.status_code != 200:
                    raise RuntimeError(f"the code exchange failed: {r.status_code} {r.text[:300]}")
                times["authorization_code"].append(ms)
                tokens = r.json()
                ms, r = _timed(lambda: rp.get(base + "/oidc/userinfo",
                                              headers={"authorization": f"Bearer {tokens['access_token']}"}))
                if r.status_code != 200 or r.json().get("email") != "alice@acme.test":
                    raise RuntimeError(f"userinfo failed: {r.status_code} {r.text[:300]}")
                times["userinfo"].append(ms)
                ms, r = _timed(lambda: rp.post(base + "/oidc/token", auth=(client_id, secret), data={
                    "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}))
                if r.status_code != 200 or "access_token" not in r.json():
                    raise RuntimeError(f"the refresh grant failed: {r.status_code} {r.text[:300]}")
                times["refresh_token"].append(ms)
    finally:
        server.stop()
    return {name: summary(ms) for name, ms in times.items()}


def measure_databases(work: Path, rounds: int, databases=("sqlite", "postgresql")) -> dict:
    """{database: measure(...)}; PostgreSQL in a fresh database, dropped after."""
    out = {}
    work.mkdir(parents=True, exist_ok=True)
    if "sqlite" in databases:
        out["sqlite"] = measure(f"sqlite:///{work / 'oidc.db'}", work, rounds)
    if "postgresql" in databases:
        from tests.support.database import create_pg_database, drop_pg_database, pg_url

        name = create_pg_database()
        try:
            out["postgresql"] = measure(pg_url(name), work, rounds)
        finally:
            drop_pg_database(name)
    return out


def main() -> None:
    import os
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m bench.oidc_endpoints")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ostiary-oidc-bench-"))
    if "OSTIARY_SECRET_KEY_FILE" not in os.environ:  # production mode seals secrets, as bench/run does
        from ostiary.secretbox import generate_key

        (work / "secret.key").write_text(generate_key() + "\n")
        (work / "secret.key").chmod(0o600)
        os.environ["OSTIARY_SECRET_KEY_FILE"] = str(work / "secret.key")
    results = measure_databases(work, args.rounds, args.databases)
    print(f"OIDC provider endpoints, {args.rounds} of each (ms; seen from a keep-alive client on loopback)")
    print(f"{'database':<12}{'endpoint':<22}{'median':>10}{'p90':>10}")
    for db, by_endpoint in results.items():
        for name, s in by_endpoint.items():
            print(f"{db:<12}{name:<22}{s['median_ms']:>10.1f}{s['p90_ms']:>10.1f}")


if __name__ == "__main__":
    main()
