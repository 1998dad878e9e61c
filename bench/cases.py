"""The five measurements. Each returns plain data (JSON-ready); pairs of
targets are always interleaved, round by round, so noise hits both sides."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.servers import ROOT, KeepAlive, owner_of_connection, rss_mb, worker_pids
from bench.world import Small, check_headers, mint_cookie
from bench.wrk import run_wrk
from ostiary.services.rules import groups, sessions
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.store import open_store
from ostiary.tokens import FORWARD_AUTH, sign


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used, from /proc."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def interleaved(targets: dict[str, tuple], concurrencies: list[int], rounds: int | dict[int, int],
                seconds: float) -> dict:
    """{target: {concurrency: [run, ...]}}; each round visits every concurrency, targets in random order.
    `rounds` is one count for every concurrency, or a count per concurrency (more where a target
    is read: the median of more rounds moves less on a noisy machine); a round visits the
    concurrencies that still need one.
    Besides wrk's figures, each run records the CPU the serving processes (the third item:
    granian workers, nginx workers) spent per request: a capacity figure the shared
    machine's noise barely moves, since it does not count time spent waiting for a core."""
    out = {name: {c: [] for c in concurrencies} for name in targets}
    # (url, headers, pids[, refused[, {part: pids}]]): the parts' CPU is also recorded apart (nginx, Ostiary).
    refused = {name: len(t) > 3 and t[3] for name, t in targets.items()}
    for name, (url, headers, *_) in targets.items():  # warm-up: connections, caches
        run_wrk(url, headers, 16, 1, refused=refused[name])
    per = rounds if isinstance(rounds, dict) else {c: rounds for c in concurrencies}
    total = max(per[c] for c in concurrencies)
    for r in range(total):
        for c in concurrencies:
            if r >= per[c]:
                continue
            names = list(targets)
            random.shuffle(names)
            for name in names:
                url, headers, pids = targets[name][:3]
                parts = targets[name][4] if len(targets[name]) > 4 else {}
                before, parts_before = cpu_seconds(pids), {k: cpu_seconds(p) for k, p in parts.items()}
                run = vars(run_wrk(url, headers, c, seconds, refused=refused[name]))
                run["server_cpu_us"] = (cpu_seconds(pids) - before) / run["requests"] * 1e6
                if parts:
                    run["cpu_parts_us"] = {k: (cpu_seconds(p) - parts_before[k]) / run["requests"] * 1e6
                                           for k, p in parts.items()}
                out[name][c].append(run)
        log(f"  round {r + 1}/{total} done")
    return out


def summarise(runs: dict, ours: str, floor: str) -> dict:
    """Per concurrency: medians of each side and the median of the per-round ratios."""
    table = {}
    for c in runs[ours]:
        a, b = runs[ours][c], runs[floor][c]
        table[c] = {
            f"{ours}_rps": statistics.median(x["rps"] for x in a),
            f"{floor}_rps": statistics.median(x["rps"] for x in b),
            f"{ours}_p99_ms": statistics.median(x["p99_ms"] for x in a),
            f"{floor}_p99_ms": statistics.median(x["p99_ms"] for x in b),
            f"{ours}_p50_ms": statistics.median(x["p50_ms"] for x in a),
            f"{floor}_p50_ms": statistics.median(x["p50_ms"] for x in b),
            f"{ours}_cpu_us": statistics.median(x["server_cpu_us"] for x in a),
            f"{floor}_cpu_us": statistics.median(x["server_cpu_us"] for x in b),
            "cpu_ratio": statistics.median(y["server_cpu_us"] / x["server_cpu_us"] for x, y in zip(a, b)),
            "ratio": statistics.median(x["rps"] / y["rps"] for x, y in zip(a, b)),
            "ratios": [round(x["rps"] / y["rps"], 3) for x, y in zip(a, b)],
        }
        for side, side_runs in ((ours, a), (floor, b)):
            if "cpu_parts_us" in side_runs[0]:
                table[c][f"{side}_cpu_parts_us"] = {k: statistics.median(x["cpu_parts_us"][k] for x in side_runs)
                                                    for k in side_runs[0]["cpu_parts_us"]}
    return table


# -- 3. scale ------------------------------------------------------------------

_LOAD_PROBE = """
import json, resource, sys, time
from ostiary.store import open_store
from ostiary.tokens import FORWARD_AUTH, sign
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.tokens import sign
holder = SnapshotHolder(open_store(sys.argv[1]))
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
w, c = time.perf_counter(), time.process_time()
holder.load()
print(json.dumps({"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c,
                  "users": len(holder.snapshot.users)}))
"""


def snapshot_load(url: str, repeats: int) -> dict:
    """What a worker does at start (SnapshotHolder.load), in a fresh process each time."""
    runs = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", _LOAD_PROBE, url], capture_output=True, text=True, cwd=ROOT,
                              check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"wall_s": statistics.median(r["wall_s"] for r in runs), "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "wall_runs": [round(r["wall_s"], 2) for r in runs], "cpu_runs": [round(r["cpu_s"], 2) for r in runs]}


def small_change(url: str, trials: int) -> dict:
    """poll_once after one membership change (add, then remove) of a bulk tenant's user."""
    from sqlalchemy import select

    from ostiary.store.tables import tenants

    store = open_store(url)
    holder = SnapshotHolder(store)
    holder.load()
    with store.read() as conn:
        tid = conn.execute(select(tenants.c.id).where(tenants.c.slug == "bulk3")).scalar_one()
    times = []
    for i in range(trials):
        email, group = f"user{100 + i}@bulk3.test", "group01999"
        groups.add_member(store, tid, CLI_ACTOR, group, email)
        t = time.perf_counter()
        applied = holder.poll_once()
        times.append((time.perf_counter() - t) * 1000)
        assert applied == 1, applied
        groups.remove_member(store, tid, CLI_ACTOR, group, email)
        holder.poll_once()
    store.dispose()
    return {"median_ms": statistics.median(times), "max_ms": max(times), "runs_ms": [round(x, 2) for x in times]}


def worker_rss(server) -> list[float]:
    return [round(rss_mb(p), 1) for p in worker_pids(server.proc.pid, server.port)]


# -- 4. propagation ------------------------------------------------------------

STUCK_AFTER = 5.0


def connections_to_every_worker(servers) -> list[tuple[int, KeepAlive]]:
    """One keep-alive connection per worker of every server: (worker pid, connection)."""
    chosen: dict[int, KeepAlive] = {}
    for server in servers:
        deadline = time.time() + 60
        while len(pids := worker_pids(server.proc.pid, server.port)) < server.workers and time.time() < deadline:
            time.sleep(0.1)  # granian spawns workers one by one
        spare = []
        for _ in range(200):
            if all(p in chosen for p in pids):
                break
            conn = KeepAlive(server.port)
            conn.get("/readyz", {"Host": "localhost"})  # accepted by now: the owner is in /proc
            owner = owner_of_connection(pids, server.port, conn.client_port)
            if owner is not None and owner not in chosen:
                chosen[owner] = conn
            else:
                spare.append(conn)
        for conn in spare:
            conn.close()
        missing = [p for p in pids if p not in chosen]
        if missing or len(pids) < server.workers:
            raise RuntimeError(f"no connection reached workers {missing} of the server on {server.port}")
    for _, conn in chosen.items():
        deadline = time.time() + 60
        while conn.get("/readyz", {"Host": "localhost"}) != 200 and time.time() < deadline:
            time.sleep(0.1)  # every worker has loaded its snapshot and started following
    return list(chosen.items())


def propagation(store_url: str, world: Small, servers, trials: int) -> dict:
    """Seconds from ending a session (service layer) until every worker refuses its cookie."""
    store = open_store(store_url)
    conns = connections_to_every_worker(servers)
    _, first_cookie = mint_cookie(store, world)
    with store.read() as conn:
        from ostiary.snapshot.build import load_full
        snap = load_full(conn)
    domain_id = snap.portal_hosts["auth.bench.test"].id
    per_trial, per_worker, stuck = [], [], 0
    for _ in range(trials):
        session = sessions.create_session(store, world.tenant_id, world.user_id)
        cookie = sign(FORWARD_AUTH, {"tn": world.tenant_id, "d": domain_id, "s": session.id, "u": world.user_id,
                             "mf": False, "exp": time.time() + 3600}, snap.signing_key)
        headers = check_headers(world, cookie)
        for _, c in conns:
            status = c.get("/forward-auth/check", headers)
            if status != 200:
                raise RuntimeError(f"a fresh cookie was refused ({status}): the benchmark is misconfigured")
        time.sleep(random.uniform(0, 0.25))  # any phase of the workers' poll interval
        t0 = time.perf_counter()
        sessions.end_session(store, world.tenant_id, session.id, "signed out", CLI_ACTOR)
        pending = dict(conns)
        delays = {}
        while pending:
            for pid in list(pending):
                if pending[pid].get("/forward-auth/check", headers) != 200:
                    delays[pid] = time.perf_counter() - t0
                    del pending[pid]
            if time.perf_counter() - t0 > STUCK_AFTER:
                log(f"  workers {list(pending)} still accept an ended session after {STUCK_AFTER} s")
                stuck += 1
                for pid in pending:
                    delays[pid] = time.perf_counter() - t0
                break
            time.sleep(0.002)
        per_trial.append(max(delays.values()))
        per_worker += list(delays.values())
    for _, c in conns:
        c.close()
    store.dispose()
    ms = [x * 1000 for x in per_trial]
    return {"workers": len(conns), "trials": trials, "stuck_trials": stuck, "median_ms": statistics.median(ms), "worst_ms": max(ms),
            "p90_ms": sorted(ms)[int(0.9 * (len(ms) - 1))], "per_trial_ms": [round(x, 1) for x in ms],
            "per_worker_median_ms": statistics.median(x * 1000 for x in per_worker)}


# -- 5. handshake --------------------------------------------------------------


def handshake(world: Small, port: int, ca: Path, trials: int) -> dict:
    """A signed-in browser without a forward-auth cookie for the app: the
    redirects it follows, and the time Ostiary spends from /start to /callback."""
    from tests.support.visitor import Visitor
    from bench.world import APP_HOST, PASSWORD, PORTAL, USER_EMAIL

    visitor = Visitor(port, ca, {APP_HOST: PORTAL}, login=USER_EMAIL, password=PASSWORD)
    timings: list[tuple[str, float]] = []
    started: dict[int, float] = {}
    visitor.browser.event_hooks = {
        "request": [lambda req: started.__setitem__(id(req), time.perf_counter())],
        "response": [lambda resp: timings.append((str(resp.request.url), time.perf_counter() - started.pop(id(resp.request))))],
    }
    first = visitor.open(world.app_url + "/")
    if not first.reached_app:
        raise RuntimeError(f"the first sign-in did not reach the app: {[(s.url, s.status) for s in first.steps]}")
    server_ms, trips, paths = [], [], None
    for _ in range(trials):
        for c in [c for c in visitor.browser.cookies.jar if c.name == "_ostiary_fa"]:
            visitor.browser.cookies.jar.clear(c.domain, c.path, c.name)
        timings.clear()
        visit = visitor.open(world.app_url + "/")
        if not visit.reached_app:
            raise RuntimeError(f"the handshake did not reach the app: {[(s.url, s.status) for s in visit.steps]}")
        trips.append(len(visit.steps))
        paths = [_short(s.url) + f" → {s.status}" for s in visit.steps]
        # From the request to /start until the response that redirects out of /callback.
        i0 = next(i for i, (u, _) in enumerate(timings) if "/start" in u)
        i1 = next(i for i, (u, _) in enumerate(timings) if "/callback" in u)
        server_ms.append(sum(t for _, t in timings[i0:i1 + 1]) * 1000)
    visitor.close()
    return {"trials": trials, "median_ms": statistics.median(server_ms), "max_ms": max(server_ms),
            "round_trips": statistics.median(trips), "steps": paths, "sign_ins": visitor.sign_ins}


def _short(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path}"
