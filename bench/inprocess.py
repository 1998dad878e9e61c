"""`python -m bench.inprocess`: the Python cost of one /check, with no server.

Ostiary's ASGI application (the same object a granian worker runs, its
snapshot loaded from a small installation) is called in a loop with the
scope granian would hand it, beside the bare handlers of bench/bare_app.py
called the same way; and each outcome once more with the remembered answers
turned off (`*_decided`: what the first request of a cookie, URI and
snapshot generation costs, and every request of a flood of made-up URIs). The coroutine is driven by hand (`send(None)`), since
no await in the gate ever suspends: what is timed is Ostiary's Python and
nothing of an event loop or a server. Times are the thread's CPU time, and
rounds alternate the targets; a figure is the median over rounds of each
round's mean, so a busy machine moves every target alike.

    python -m bench.inprocess            # the table
    python -m bench.inprocess --profile allowed  # cProfile of one outcome, not remembered
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.bare_app import bare, bare_reading_headers
from bench.world import APP_HOST, build_small, check_headers, mint_cookie

_RECEIVED: list = []


async def _send(message) -> None:
    _RECEIVED.append(message)


async def _receive():  # never called by the gate
    raise AssertionError("the gate does not read the request body")


def scope_for(headers: dict[str, str], path: str = "/forward-auth/check",
              query: bytes = b"not-signed-in=401") -> dict:
    """What granian's ASGI interface hands the application for the subrequest."""
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http", "method": "GET",
        "root_path": "", "path": path, "raw_path": path.encode(), "query_string": query,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "state": {},
    }


def call(app, scope) -> None:
    coro = app(scope, _receive, _send)
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("the handler suspended: it cannot be timed without an event loop")


def status_of(app, scope) -> int:
    _RECEIVED.clear()
    call(app, scope)
    return _RECEIVED[0]["status"]


def time_rounds(targets: dict[str, tuple], rounds: int, calls: int) -> dict[str, dict]:
    """µs per call: median over rounds of the round's mean, and the best round."""
    per_round: dict[str, list[float]] = {name: [] for name in targets}
    clock = time.thread_time_ns  # CPU time: a busy machine's waits for a core are not counted
    for _ in range(rounds):
        for name, (app, scope) in targets.items():
            _RECEIVED.clear()
            t = clock()
            for _ in range(calls):
                coro = app(scope, _receive, _send)
                try:
                    coro.send(None)
                except StopIteration:
                    pass
            per_round[name].append((clock() - t) / calls / 1000)
            _RECEIVED.clear()
    return {name: {"us": statistics.median(v), "best_us": min(v)} for name, v in per_round.items()}


def build(work: Path):
    """A small installation, an Ostiary application over it with its snapshot
    loaded, and the scopes of each outcome: {name: (expected status, scope)}."""
    if "OSTIARY_SECRET_KEY_FILE" not in os.environ:
        from ostiary.secretbox import generate_key

        key_file = work / "secret.key"
        key_file.write_text(generate_key() + "\n")
        key_file.chmod(0o600)
        os.environ["OSTIARY_SECRET_KEY_FILE"] = str(key_file)
    from ostiary.app import create_app
    from ostiary.config import load_settings
    from ostiary.services.rules import users
    from ostiary.store import open_store

    url = f"sqlite:///{work / 'small.db'}"
    world = build_small(url, 8443)
    store = open_store(url)
    _, cookie = mint_cookie(store, world)
    # user0 is in no group: the app, granted to "staff", refuses them.
    outsider = users.find_user(store, world.tenant_id, "user0@acme.test")
    _, outsider_cookie = mint_cookie(store, world.__class__(world.url, world.tenant_id, world.app_url, outsider.id))
    store.dispose()
    app = create_app(load_settings(database_url=url, data_dir=work))
    app.holder.load()
    allowed = check_headers(world, cookie)
    anonymous = {k: v for k, v in allowed.items() if k != "Cookie"}
    unknown = {**allowed, "X-Forwarded-Host": "unknown.bench.test",
               "X-Original-URL": allowed["X-Original-URL"].replace(APP_HOST, "unknown.bench.test")}
    scopes = {
        "allowed": (200, scope_for(allowed)),
        "not_signed_in": (401, scope_for(anonymous)),
        "forbidden": (403, scope_for(check_headers(world, outsider_cookie))),
        "no_app": (403, scope_for(unknown)),
    }
    return app, scopes


class _Forgetful:
    """An AnswerCache that remembers nothing."""

    def get(self, snap, key, now):
        return None

    def get_read(self, snap, key, exact, now):
        return None

    def put(self, snap, key, answer, signed_in) -> None:
        pass


def uncached_handler(app):
    from ostiary.gate.asgi import CheckHandler

    handler = CheckHandler(app.holder, app.settings.public_url, allow_http=app.settings.dev)
    handler.answers = _Forgetful()
    return handler


def measure(rounds: int = 15, calls: int = 5000) -> dict:
    with tempfile.TemporaryDirectory(prefix="ostiary-inprocess-") as tmp:
        app, scopes = build(Path(tmp))
        try:
            for name, (status, scope) in scopes.items():
                got = status_of(app, scope)
                if got != status:
                    raise RuntimeError(f"{name}: expected {status}, got {got}: the benchmark is misconfigured")
            bare_scope = scopes["allowed"][1]
            targets = {"bare": (bare, bare_scope), "bare_headers": (bare_reading_headers, bare_scope)}
            targets.update({name: (app, scope) for name, (_, scope) in scopes.items()})
            decided = uncached_handler(app)
            targets.update({f"{name}_decided": (decided, scope) for name, (_, scope) in scopes.items()})
            for name, (a, s) in targets.items():  # warm-up: caches, lazy imports
                for _ in range(200):
                    call(a, s)
            result = time_rounds(targets, rounds, calls)
        finally:
            app.store.dispose()
    floor = result["bare"]["us"]
    for row in result.values():
        row["ours_us"] = row["us"] - floor  # Python beyond what any ASGI handler costs
    return result


def profile(outcome: str, calls: int = 50_000) -> None:
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory(prefix="ostiary-inprocess-") as tmp:
        app, scopes = build(Path(tmp))
        handler, scope = uncached_handler(app), scopes[outcome][1]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(calls):
            call(handler, scope)
        prof.disable()
        app.store.dispose()
    pstats.Stats(prof).sort_stats("tottime").print_stats(20)


def table(result: dict) -> str:
    lines = ["| target | µs per call | best round | beyond the bare handler |", "|---|---:|---:|---:|"]
    for name, row in result.items():
        lines.append(f"| {name} | {row['us']:.2f} | {row['best_us']:.2f} | {row['ours_us']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("--profile", metavar="OUTCOME", help="cProfile one outcome's check (decided, not remembered)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    result = measure(args.rounds, args.calls)
    print(json.dumps(result, indent=1) if args.json else table(result))


if __name__ == "__main__":
    main()
