"""`bench/run`: every figure in BENCHMARKS.md, in one run (12 to 20 minutes
on two cores). `--quick` makes every phase short, to check the setup, and
writes its report to bench/results/BENCHMARKS-quick.md instead."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from bench import cases, inprocess
from bench.floors import INTERFACES, available, bare_targets, fastest, keeps_header_bytes, start_bare_floors
from bench.cases import log
from bench.nginx_config import BenchNginx, http_block, shipped_copy
from bench.servers import ROOT, BareServer, descendants, free_port, ostiary, worker_pids
from bench.world import APP_HOST, PORTAL, add_bulk, build_small, check_headers, mint_cookie, refused_headers
from ostiary.config import load_settings
from ostiary.serving import event_loop
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.store import open_store
from tests.support.tls import issue_certificates

RESULTS = ROOT / "bench" / "results"
TARGET_CONNECTIONS = 16
TARGET_ROUNDS = 9


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem_kb = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal")))
    nginx = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk = subprocess.run(["/usr/bin/wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    from importlib.metadata import version

    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(), "granian": version("granian"),
            "nginx": nginx, "wrk": wrk.split(" [")[0], "load_average_at_start": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/run")
    parser.add_argument("--quick", action="store_true", help="short phases: check the setup, not the figures")
    parser.add_argument("--only", default="1234567", help="which cases to run, e.g. 13")
    args = parser.parse_args()
    q = args.quick
    rounds, seconds = (1, 1) if q else (5, 3)
    concurrencies = [1, 4, 16, 64]
    # Targets 1 to 3 are read at 16 connections: more rounds there, where the shared machine's
    # noise would otherwise move a median of five by as much as the margin being judged.
    target_rounds = 1 if q else TARGET_ROUNDS
    rounds_at = {c: target_rounds if c == TARGET_CONNECTIONS else rounds for c in concurrencies}
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="ostiary-bench-"))
    # Ostiary in production mode seals its secrets (docs/operations.md, "Secrets at rest"):
    # the worlds built here and every server started share one key, as an installation does.
    if "OSTIARY_SECRET_KEY_FILE" not in os.environ:
        from ostiary.secretbox import generate_key

        key_file = work / "secret.key"
        key_file.write_text(generate_key() + "\n")
        key_file.chmod(0o600)
        os.environ["OSTIARY_SECRET_KEY_FILE"] = str(key_file)
    results: dict = {"machine": machine(), "quick": q, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                     "rounds": {str(c): n for c, n in rounds_at.items()}}
    log(f"working in {work}; machine {results['machine']}")

    ports = {k: free_port() for k in ("ostiary", "large", "nginx", "floor", "backend", "tls")}
    small_url = f"sqlite:///{work / 'small.db'}"
    large_url = f"sqlite:///{work / 'large.db'}"
    world = build_small(small_url, ports["nginx"])
    running = []
    try:
        server = ostiary(small_url, ports["ostiary"], 1, work, OSTIARY_PROXY_UPSTREAM=f"http://127.0.0.1:{ports['ostiary']}")
        running.append(server)
        small_store = open_store(small_url)
        _, cookie = mint_cookie(small_store, world)
        headers = check_headers(world, cookie)
        check_url = f"http://127.0.0.1:{ports['ostiary']}/forward-auth/check?not-signed-in=401"

        if "1" in args.only:
            log("case 1a: the Python of one check, in process, beside the bare handler")
            results["inprocess_rounds"] = 3 if q else 15
            results["inprocess"] = inprocess.measure(rounds=results["inprocess_rounds"], calls=1000 if q else 5000)
            log("  " + ", ".join(f"{k} {v['us']:.1f} µs" for k, v in results["inprocess"].items()))
            log("case 1b: the floor: the bare handler on every event loop and interface granian offers")
            # Which interfaces hand the application every header byte: only those can serve Ostiary.
            fidelity = {interface: keeps_header_bytes(work, interface) for interface in INTERFACES}
            floors = start_bare_floors(work)
            running += floors.values()
            floor_targets = bare_targets(floors, headers)
            chosen = cases.interleaved(floor_targets, [16], 1 if q else 3, seconds)
            # Target 1's floor is the fastest bare handler `ostiary serve` can run on either server
            # (BENCHMARKS.md, "The floor"); each server's own fastest is reported beside it.
            granian_floors = [n for n in floor_targets if not n.startswith("bare_uvicorn_")]
            fastest_floor = fastest(chosen, available(list(floor_targets), fidelity))
            fastest_any = fastest(chosen, list(floor_targets))
            granian_floor = fastest(chosen, available(granian_floors, fidelity))
            uvicorn_floor = fastest(chosen, [n for n in floor_targets if n.startswith("bare_uvicorn_")])
            # The server and loop `ostiary serve` runs by default.
            serve_floor = f"bare_uvicorn_{event_loop('auto', 'uvicorn')}"
            results["floors"] = {"runs": chosen, "fastest": fastest_floor, "serve": serve_floor,
                                 "fastest_any": fastest_any, "uvicorn": uvicorn_floor, "granian": granian_floor,
                                 "fidelity": fidelity,
                                 "table": {name: cases.summarise(chosen, name, "bare_asgi_asyncio")[16]
                                           for name in floor_targets}}
            log(f"  header bytes intact: {fidelity}; fastest floor ostiary serve can run: {fastest_floor}; "
                f"fastest of all: {fastest_any}; ostiary serve runs {serve_floor}; granian's: {granian_floor}; "
                f"uvicorn's: {uvicorn_floor}")
            # Each floor runs once per round however many names it has; a name whose floor is another's
            # gets that one's runs.
            named = {"floor": fastest_floor, "floor_granian": granian_floor, "floor_serve": serve_floor,
                     "floor_any": fastest_any}
            for name in floors:
                if name not in named.values():
                    floors[name].stop()
                    running.remove(floors[name])
            log("case 1c: /check, allowed and refused, against the fastest floor; one worker of each server")
            check_pids = worker_pids(server.proc.pid, server.port)
            refusals = refused_headers(world, small_store, headers)
            granian_check = ostiary(small_url, free_port(), 1, work, server="granian")
            running.append(granian_check)
            targets = {"check": (check_url, headers, check_pids),
                       "check_granian": (f"http://127.0.0.1:{granian_check.port}/forward-auth/check"
                                         "?not-signed-in=401", headers,
                                         worker_pids(granian_check.proc.pid, granian_check.port))}
            first_name: dict[str, str] = {}
            for name, floor_name in named.items():
                if floor_name not in first_name:
                    first_name[floor_name] = name
                    targets[name] = floor_targets[floor_name]
            # The refused paths run in the same rounds, at every concurrency, against the same floor.
            targets.update({name: (check_url, h, check_pids, True) for name, h in refusals.items()})
            runs = cases.interleaved(targets, concurrencies, rounds_at, seconds)
            for name, floor_name in named.items():
                runs.setdefault(name, runs[first_name[floor_name]])
            granian_check.stop()
            running.remove(granian_check)
            ours = ("check", "check_granian", *named)
            results["case1"] = {"runs": {k: v for k, v in runs.items() if k in ours},
                                "table": cases.summarise(runs, "check", "floor"),
                                "floor": fastest_floor, "serve_floor": serve_floor, "any_floor": fastest_any,
                                "granian_floor": granian_floor,
                                "serve_table": cases.summarise(runs, "check", "floor_serve"),
                                "any_table": cases.summarise(runs, "check", "floor_any"),
                                "granian_table": cases.summarise(runs, "check_granian", "floor_granian"),
                                "granian_vs_floor_table": cases.summarise(runs, "check_granian", "floor")}
            results["refused"] = {"runs": {k: v for k, v in runs.items() if k not in ours},
                                  "table": {name: cases.summarise(runs, name, "floor")[16] for name in refusals},
                                  "by_connections": {name: cases.summarise(runs, name, "floor") for name in refusals}}
            for name in set(named.values()):
                if floors[name] in running:
                    floors[name].stop()
                    running.remove(floors[name])

        if "2" in args.only:
            log("case 2: a protected request through nginx with the snippet, against nginx answering itself")
            tls = issue_certificates(work / "tls-nginx", [APP_HOST])
            settings = load_settings(database_url=small_url, data_dir=work, public_port=ports["nginx"],
                                     proxy_upstream=f"http://127.0.0.1:{ports['ostiary']}")
            snippet = snippet_for_app(small_store, settings, world.tenant_id, "app", "nginx")
            block = http_block(snippet, app_host=APP_HOST, app_port=ports["nginx"], floor_port=ports["floor"],
                               backend_port=ports["backend"], cert=tls.cert_chain, key=tls.private_key, workdir=work)
            # A third site: the same snippet in front of the bare ASGI handler on the server and loop
            # `ostiary serve` runs (it answers every check 200): what any Python handler there costs under nginx.
            bare = BareServer(free_port(), work, loop=event_loop("auto", "uvicorn"), interface="uvicorn")
            running.append(bare)
            bare_port = free_port()
            block += shipped_copy(block, "bare", ports["nginx"], bare_port, bare.port)
            # A fourth: the same snippet in front of the same Ostiary served by `ostiary serve --server granian`
            # (one worker).
            on_granian = ostiary(small_url, free_port(), 1, work, server="granian")
            running.append(on_granian)
            granian_port = free_port()
            block += shipped_copy(block, "granian", ports["nginx"], granian_port, on_granian.port)
            (RESULTS / ("nginx-bench-quick.conf.txt" if q else "nginx-bench.conf.txt")).write_text(block)
            app_headers = {"Host": f"{APP_HOST}:{ports['nginx']}", "Accept": "text/html",
                           "Cookie": headers["Cookie"]}
            # A fetch with no cookie: the snippet's named location answers 401 with the sign-in target
            # (a page navigation gets the 302 the same way, which wrk would not count as refused).
            anonymous = {"Host": f"{APP_HOST}:{ports['nginx']}", "Accept": "application/json"}
            with BenchNginx(block, [ports["nginx"], ports["floor"], ports["backend"], bare_port, granian_port],
                            work / "nginx") as nginx:
                nginx_pids = descendants(nginx.process.pid)
                ostiary_pids = worker_pids(server.proc.pid, server.port)
                bare_pids = worker_pids(bare.proc.pid, bare.port)
                granian_pids = worker_pids(on_granian.proc.pid, on_granian.port)
                parts = {"nginx": nginx_pids, "ostiary": ostiary_pids}
                bare_parts = {"nginx": nginx_pids, "ostiary": bare_pids}
                granian_parts = {"nginx": nginx_pids, "ostiary": granian_pids}
                runs = cases.interleaved({
                    "nginx_ostiary": (f"https://127.0.0.1:{ports['nginx']}/", app_headers, nginx_pids + ostiary_pids,
                                      False, parts),
                    "nginx_floor": (f"https://127.0.0.1:{ports['floor']}/", app_headers, nginx_pids, False, parts),
                    "nginx_bare": (f"https://127.0.0.1:{bare_port}/", app_headers, nginx_pids + bare_pids, False,
                                   bare_parts),
                    "nginx_granian": (f"https://127.0.0.1:{granian_port}/", app_headers, nginx_pids + granian_pids,
                                      False, granian_parts),
                    "nginx_anonymous": (f"https://127.0.0.1:{ports['nginx']}/", anonymous,
                                        nginx_pids + ostiary_pids, True, parts),
                }, concurrencies, rounds_at, seconds)
            for done in (bare, on_granian):
                done.stop()
                running.remove(done)
            results["case2"] = {"runs": {k: v for k, v in runs.items() if k in ("nginx_ostiary", "nginx_floor")},
                                "table": cases.summarise(runs, "nginx_ostiary", "nginx_floor"),
                                "bare_runs": runs["nginx_bare"],
                                "bare_table": cases.summarise(runs, "nginx_ostiary", "nginx_bare"),
                                "bare_floor_table": cases.summarise(runs, "nginx_bare", "nginx_floor"),
                                "granian_runs": runs["nginx_granian"],
                                "granian_table": cases.summarise(runs, "nginx_granian", "nginx_floor"),
                                "granian_vs_default_table": cases.summarise(runs, "nginx_granian", "nginx_ostiary"),
                                "anonymous_runs": runs["nginx_anonymous"],
                                "anonymous_table": cases.summarise(runs, "nginx_anonymous", "nginx_floor"),
                                "anonymous_vs_allowed_table": cases.summarise(runs, "nginx_anonymous",
                                                                              "nginx_ostiary")}

        if "3" in args.only:
            log("case 3: scale — building the large installation")
            # Built afresh, never copied: opening and closing a live SQLite file in this
            # process would drop the POSIX locks the process's own connections hold.
            build_small(large_url, ports["nginx"])
            t = time.time()
            counts = add_bulk(large_url)
            log(f"  bulk insert {time.time() - t:.1f} s: {counts}")
            load = cases.snapshot_load(large_url, 1 if q else 3)
            log(f"  snapshot load {load}")
            large = ostiary(large_url, ports["large"], 1, work)
            running.append(large)
            large_store = open_store(large_url)
            _, large_cookie = mint_cookie(large_store, world)
            large_headers = check_headers(world, large_cookie)
            runs = cases.interleaved({
                "large": (f"http://127.0.0.1:{ports['large']}/forward-auth/check?not-signed-in=401", large_headers,
                          worker_pids(large.proc.pid, large.port)),
                "small": (check_url, headers, worker_pids(server.proc.pid, server.port)),
            }, [16], 2 if q else 7, seconds)
            table = cases.summarise(runs, "large", "small")
            change = cases.small_change(large_url, 5 if q else 20)
            rss = {"large": cases.worker_rss(large), "small": cases.worker_rss(server)}
            large.stop()
            running.remove(large)
            large_store.dispose()
            results["case3"] = {"counts": counts, "runs": runs, "table": table, "snapshot_load": load,
                                "small_change": change, "worker_rss_mb": rss}
            log(f"  {table[16]['ratio']:.3f} of small; rss {rss}; change {change['median_ms']:.1f} ms")
        server.stop()
        running.remove(server)

        if "4" in args.only:
            trials = 8 if q else 30
            log("case 4a: propagation, SQLite, one instance of 4 workers")
            four = ostiary(small_url, ports["ostiary"], 4, work)
            running.append(four)
            results["case4_sqlite"] = cases.propagation(small_url, world, [four], trials)
            four.stop()
            running.remove(four)
            log(f"  {results['case4_sqlite']}")
            log("case 4b: propagation, PostgreSQL, two instances of 2 workers")
            from tests.support.database import create_pg_database, drop_pg_database, pg_url

            name = create_pg_database()
            try:
                pg = pg_url(name)
                pg_world = build_small(pg, ports["nginx"])
                a = ostiary(pg, ports["ostiary"], 2, work)
                running.append(a)
                b = ostiary(pg, ports["large"], 2, work)
                running.append(b)
                results["case4_postgresql"] = cases.propagation(pg, pg_world, [a, b], trials)
                for s in (a, b):
                    s.stop()
                    running.remove(s)
            finally:
                drop_pg_database(name)
            log(f"  {results['case4_postgresql']}")

        if "5" in args.only:
            log("case 5: the handshake for a signed-in user, over HTTPS")
            tls = issue_certificates(work / "tls-ostiary", ["localhost", "*.id.bench.test", PORTAL, "*.bench.test"])
            from tests.support.server import OstiaryServer

            hs = OstiaryServer({"OSTIARY_DATABASE_URL": small_url, "OSTIARY_DATA_DIR": str(work),
                                "OSTIARY_PUBLIC_PORT": str(ports["tls"])}, ports["tls"], workers=1,
                               tls=(tls.cert_chain, tls.private_key), log_path=work / "ostiary-tls.log")
            hs.start(ready_host=PORTAL, ca_cert=tls.ca_cert, timeout=60)
            running.append(hs)
            results["case5"] = cases.handshake(world, ports["tls"], tls.ca_cert, 5 if q else 30)
            log(f"  {results['case5']}")

        if "6" in args.only:
            from bench import oidc_endpoints, signin_methods

            n = 3 if q else 30
            log("case 6a: sign-in by each method (password, password + TOTP, upstream OpenID provider, LDAP)")
            results["case6_signin"] = signin_methods.measure(work / "signin", n)
            log("  " + ", ".join(f"{k} {v['median_ms']:.1f} ms" for k, v in results["case6_signin"].items()))
            log("case 6b: Ostiary's OpenID provider: token (code, refresh) and userinfo, SQLite and PostgreSQL")
            results["case6_oidc"] = oidc_endpoints.measure_databases(work / "oidc", n)
            log("  " + "; ".join(f"{db}: " + ", ".join(f"{k} {v['median_ms']:.1f} ms" for k, v in by.items())
                                 for db, by in results["case6_oidc"].items()))

        if "7" in args.only:
            from bench import profile_check

            log("case 7: where an `ostiary serve` worker's time goes under the case-1 load (py-spy)")
            out = RESULTS / ("profile-check-quick.collapsed.txt" if q else "profile-check.collapsed.txt")
            try:
                results["profile"] = profile_check.profile(work / "profile", 4 if q else 12, out)
                out.with_name(out.name.replace(".collapsed.txt", ".md")).write_text(
                    profile_check.markdown(results["profile"]) + "\n")
            except RuntimeError as e:  # no py-spy, or no ptrace rights: the report says so
                results["profile"] = {"error": str(e)}
            log(f"  {results['profile'].get('groups', results['profile'])}")
    finally:
        for s in running:
            s.stop()
    results["elapsed_s"] = round(time.time() - started, 1)
    out = RESULTS / ("results-quick.json" if q else "results.json")
    out.write_text(json.dumps(results, indent=1, default=str))
    log(f"wrote {out} in {results['elapsed_s']} s")
    from bench import report

    if q or set("12345") <= set(args.only):
        report.write(results, quick=q)
        log(f"wrote {report.output_path(q)}")


if __name__ == "__main__":
    main()
