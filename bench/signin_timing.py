"""How long a refused sign-in takes: an unknown login against a wrong
password for a real account, sent alternately to one `ostiary serve` on
loopback, each from a fresh address and each wrong password for its own
account, so throttling never answers instead. SECURITY.md promises the
two look alike; this measures how alike, side by side in one run, which a
timed test on a shared machine cannot (tests/security checks the floor and
the equal work instead).

    .venv/bin/python -m bench.signin_timing             # 40 of each
    .venv/bin/python -m bench.signin_timing --rounds 100

Prints each kind's median and 90th percentile, the difference of the
medians, and the share of pairs in which the unknown login was the slower
one (about half when nothing tells them apart)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.servers import free_port, ostiary
from ostiary.portal.signin import MIN_FAILED_SECONDS
from ostiary.services.rules import tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store import open_store
from ostiary.wire import CSRF_COOKIE_DEV

PASSWORD = "correct horse battery"
HOST = "acme.id.bench.test"
CSRF = "x" * 43


def _attempt(client: httpx.Client, port: int, login: str, address: str) -> float:
    origin = f"http://{HOST}:{port}"
    headers = {"Host": f"{HOST}:{port}", "Origin": origin, "Sec-Fetch-Site": "same-origin",
               "Cookie": f"{CSRF_COOKIE_DEV}={CSRF}", "X-Forwarded-For": address}
    start = time.perf_counter()
    r = client.post(f"http://127.0.0.1:{port}/sign-in", headers=headers,
                    data={"login": login, "password": "not the password at all", "csrf": CSRF, "next": "/"})
    elapsed = time.perf_counter() - start
    if r.status_code != 401:
        raise SystemExit(f"expected 401 for {login}, got {r.status_code}: throttled or misconfigured")
    return elapsed


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.signin_timing")
    parser.add_argument("--rounds", type=int, default=40, help="attempts of each kind")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ostiary-signin-timing-"))
    url = f"sqlite:///{work / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    tenants.init_installation(store, "id.bench.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    known = [users.add_user(store, tid, CLI_ACTOR, email=f"user{i}@acme.test", password=PASSWORD).email
             for i in range(args.rounds)]
    store.dispose()
    port = free_port()
    server = ostiary(url, port, 2, work, OSTIARY_DEV="1", OSTIARY_PUBLIC_PORT=str(port),
                     OSTIARY_TRUSTED_PROXIES="127.0.0.1/32")
    timings: dict[str, list[float]] = {"unknown": [], "wrong": []}
    try:
        with httpx.Client(timeout=60) as client:
            for i in range(args.rounds):
                pair = [("unknown", f"nobody{i}@acme.test"), ("wrong", known[i])]
                for kind, login in (pair if i % 2 else reversed(pair)):  # alternate which goes first
                    timings[kind].append(_attempt(client, port, login, f"198.18.{i // 250}.{i % 250 + 1}"))
    finally:
        server.stop()
    for kind, values in timings.items():
        print(f"{kind:8} median {statistics.median(values) * 1000:6.0f} ms   p90 {_percentile(values, 0.9) * 1000:6.0f} ms"
              f"   min {min(values) * 1000:6.0f} ms (floor {MIN_FAILED_SECONDS * 1000:.0f} ms)")
    difference = statistics.median(timings["unknown"]) - statistics.median(timings["wrong"])
    slower = sum(u > w for u, w in zip(timings["unknown"], timings["wrong"])) / args.rounds
    print(f"median difference {difference * 1000:+.0f} ms; the unknown login was slower in {slower:.0%} of pairs")


if __name__ == "__main__":
    main()
