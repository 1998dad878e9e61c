"""`python -m bench.floors`: granian's event loops and interfaces, and
uvicorn's loops, side by side, for the bare handler and for Ostiary's /check,
in interleaved rounds.

bench/run uses `fastest` to pick the floor of case 1: the bare handler under
the fastest loop and interface `ostiary serve` can run. An interface is
available only if it hands the application every header byte as it came
(`keeps_header_bytes`): granian's RSGI does not. It drops a header value
with a byte outside visible ASCII, so a Cookie header that holds a sibling
app's UTF-8 cookie beside Ostiary's would vanish whole, and the person would
be sent to sign in again and again. The RSGI floor is still measured and
reported beside it. Run alone, this prints every variant's throughput and its
ratio to the asyncio ASGI floor, which is how `ostiary serve --loop auto`
chose its order (ostiary/serving.py). Ostiary under `ostiary serve` (uvicorn,
the default: uvloop and httptools, one thread) and under granian on each loop
runs beside them.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
from pathlib import Path

from bench import cases
from bench.servers import BareServer, ensure_secret_key, free_port, ostiary, worker_pids

LOOPS = ("asyncio", "uvloop", "rloop")
# granian's two interfaces, and ASGI under uvicorn (`ostiary serve --server uvicorn`); a floor is named
# "bare_<interface>_<loop>".
INTERFACES = ("asgi", "rsgi", "uvicorn")


def installed_loops() -> list[str]:
    return [name for name in LOOPS if name == "asyncio" or importlib.util.find_spec(name) is not None]


# A Cookie header as a browser sends it once an app on the same domain has set a value
# with UTF-8 bytes in it: the forward-auth cookie is in the same header.
PROBE_COOKIE = "pref=caf\u00e9".encode("utf-8") + b"; _ostiary_fa=probe"


def keeps_header_bytes(work: Path, interface: str) -> bool:
    """Whether an application served through `interface` is handed PROBE_COOKIE byte for byte."""
    import httpx

    factory = "create_echo_cookie" + ("_rsgi" if interface == "rsgi" else "")
    server = BareServer(free_port(), work, factory=factory, interface=interface)
    try:
        r = httpx.get(f"http://127.0.0.1:{server.port}/", headers={"Cookie": PROBE_COOKIE}, timeout=10)
        return r.status_code == 200 and r.content == PROBE_COOKIE
    finally:
        server.stop()


def available(names, fidelity: dict[str, bool]) -> list[str]:
    """The floors ("bare_<interface>_<loop>") whose interface keeps header bytes."""
    found = [n for n in names if fidelity[n.split("_")[1]]]
    if not found:
        raise RuntimeError(f"no interface handed the probe's Cookie header over intact: {fidelity}")
    return found


def start_bare_floors(work: Path, loops: list[str] | None = None, interfaces=INTERFACES) -> dict[str, BareServer]:
    """One bare server per loop and interface: {"bare_asgi_uvloop": server, ...}; uvicorn's only
    on the loops it runs (ostiary.serving.SERVER_LOOPS)."""
    from ostiary.serving import SERVER_LOOPS

    servers = {}
    try:
        for interface in interfaces:
            for loop in loops or installed_loops():
                if interface == "uvicorn" and loop not in SERVER_LOOPS["uvicorn"]:
                    continue
                servers[f"bare_{interface}_{loop}"] = BareServer(free_port(), work, loop=loop, interface=interface)
    except Exception:
        for s in servers.values():
            s.stop()
        raise
    return servers


def bare_targets(servers: dict[str, BareServer], headers: dict[str, str]) -> dict[str, tuple]:
    return {name: (f"http://127.0.0.1:{s.port}/forward-auth/check", headers, worker_pids(s.proc.pid, s.port))
            for name, s in servers.items()}


def fastest(runs: dict, names, concurrency: int = 16) -> str:
    """The target with the highest median throughput at that concurrency."""
    return max(names, key=lambda n: statistics.median(r["rps"] for r in runs[n][concurrency]))


def main() -> None:
    from bench.world import build_small, check_headers, mint_cookie
    from ostiary.store import open_store

    parser = argparse.ArgumentParser(prog="python -m bench.floors")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", default="16")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.connections.split(",")]
    work = Path(tempfile.mkdtemp(prefix="ostiary-floors-"))
    ensure_secret_key(work)
    url = f"sqlite:///{work / 'small.db'}"
    world = build_small(url, 8443)
    _, cookie = mint_cookie(open_store(url), world)
    headers = check_headers(world, cookie)
    running = []
    fidelity = {interface: keeps_header_bytes(work, interface) for interface in INTERFACES}
    try:
        floors = start_bare_floors(work)
        running += floors.values()
        targets = bare_targets(floors, headers)
        for loop in installed_loops():
            server = ostiary(url, free_port(), 1, work, server="granian", OSTIARY_EVENT_LOOP=loop)
            running.append(server)
            targets[f"check_granian_{loop}"] = (f"http://127.0.0.1:{server.port}/forward-auth/check?not-signed-in=401",
                                                headers, worker_pids(server.proc.pid, server.port))
        server = ostiary(url, free_port(), 1, work, server="uvicorn")  # beside them: `ostiary serve`'s default
        running.append(server)
        targets["check_uvicorn"] = (f"http://127.0.0.1:{server.port}/forward-auth/check?not-signed-in=401",
                                    headers, worker_pids(server.proc.pid, server.port))
        runs = cases.interleaved(targets, concurrencies, args.rounds, args.seconds)
    finally:
        for s in running:
            s.stop()
    base = "bare_asgi_asyncio"
    print("header bytes handed over intact: " + ", ".join(f"{i} {'yes' if ok else 'no'}" for i, ok in fidelity.items()))
    for c in concurrencies:
        print(f"\n{c} connections; ratios are medians of per-round ratios to {base}\n")
        print("| target | req/s | ratio to asyncio ASGI floor | server CPU µs/req |")
        print("|---|---:|---:|---:|")
        for name in targets:
            t = cases.summarise(runs, name, base)[c]
            print(f"| {name} | {t[f'{name}_rps']:,.0f} | {t['ratio']:.2f} | {t[f'{name}_cpu_us']:.0f} |")
        best_floor = fastest(runs, available([n for n in targets if n.startswith("bare_")], fidelity), c)
        print(f"\nfastest floor `ostiary serve` can run, on either server (target 1's, as bench/run's): {best_floor}")
        for name in targets:
            if name.startswith("check_"):
                t = cases.summarise(runs, name, best_floor)[c]
                print(f"{name} / {best_floor}: {t['ratio']:.2f} (per round {t['ratios']})")


if __name__ == "__main__":
    main()
