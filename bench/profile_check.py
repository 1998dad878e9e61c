"""`bench/profile`: where the worker of `ostiary serve` (uvicorn, the default
server; `--server granian` for granian's) spends its time under the /check
load of case 1, sampled by py-spy (collapsed stacks in bench/results/, a
summary by function on stdout). `bench/run` runs it as case 7 and puts
the summary in BENCHMARKS.md; it needs py-spy and ptrace rights (root, or
CAP_SYS_PTRACE): without them case 7 is reported as not run."""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.servers import ROOT, free_port, ostiary, worker_pids
from bench.world import build_small, check_headers, mint_cookie
from bench.wrk import run_wrk
from ostiary.serving import DEFAULT_SERVER, SERVER_LOOPS
from ostiary.store import open_store

OUT = ROOT / "bench" / "results" / "profile-check.collapsed.txt"


def profile(work: Path, seconds: int = 12, out: Path = OUT, server: str = DEFAULT_SERVER) -> dict:
    """py-spy on the one worker of `ostiary serve --server SERVER` under the case-1
    load (wrk -c16, allowed checks); the collapsed stacks go to `out`."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install -e '.[bench]'")
    work.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{work / 'profile.db'}"
    world = build_small(url, 8443)
    _, cookie = mint_cookie(open_store(url), world)
    port = free_port()
    serving = ostiary(url, port, 1, work, server=server)
    try:
        pid = worker_pids(serving.proc.pid, port)[0]
        load = threading.Thread(target=run_wrk, args=(f"http://127.0.0.1:{port}/forward-auth/check?not-signed-in=401",
                                                       check_headers(world, cookie), 16, seconds + 2))
        load.start()
        done = subprocess.run([py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
                               "--format", "raw", "--output", str(out), "--nonblocking"], capture_output=True, text=True)
        load.join()
        if done.returncode != 0:
            raise RuntimeError(f"py-spy failed (it needs ptrace rights): {done.stderr.strip()[-500:]}")
    finally:
        serving.stop()
    return {"server": server, **shares(out)}


def main(seconds: int = 12) -> None:
    parser = argparse.ArgumentParser(prog="bench/profile")
    parser.add_argument("--server", choices=list(SERVER_LOOPS), default=DEFAULT_SERVER)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ostiary-profile-"))
    profile(work, seconds, server=args.server)
    summarise(OUT)


NATIVE = "native code: no Python frame below the loop's (uvloop's libuv and the sockets; granian's Rust threads)"
# The innermost Python frame while uvloop runs native code: the call that runs the loop.
_LOOP_RUNNERS = ("Runner.run", "run_until_complete", "asyncio_run", "run", "MPServer._spawn_asgi_lifespan_worker")


def _name(frame: str) -> str:
    return frame.split(" (")[0]


def shares(path: Path, top: int = 12) -> dict:
    """Samples by where the worker was: Ostiary's handler, the server's HTTP
    protocol in Python (uvicorn's), the event loop, native code (no Python
    frames), background threads; and inside the handler, by innermost Python
    function. Shares in %."""
    groups: collections.Counter = collections.Counter()
    ours: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";") if f]
        if not frames or frames[-1] in _LOOP_RUNNERS:
            # Under uvloop (the default) the loop's own work (epoll, reading and writing the sockets) is
            # native code below the frame that runs the loop.
            groups[NATIVE] += n
        elif "OstiaryApp.__call__" in frames or any(f.startswith("GateProtocol._answer") for f in frames):
            # Under uvicorn a plain check is answered in the parser's callback (gate/uvicorn_protocol.py).
            groups["Ostiary's /check handler and everything it calls"] += n
            ours[frames[-1]] += n
        elif any(f.startswith(("HttpToolsProtocol.", "GateProtocol.")) for f in frames):
            groups["uvicorn's HTTP protocol (httptools' callbacks, the connection)"] += n
        elif any(f in ("BaseSelectorEventLoop._write_to_self", "EpollSelector.select") for f in frames):
            groups["asyncio loop: waiting in epoll and self-pipe wake-ups (call_soon_threadsafe)"] += n
        elif "SnapshotHolder._run" in frames or "Reverifier" in stack:
            groups["background threads (snapshot follower, re-verifier)"] += n
        else:
            groups["event loop: scheduling, tasks, futures"] += n
    pct = lambda n: round(100 * n / total, 1) if total else 0.0  # noqa: E731
    return {"samples": total, "groups": {g: pct(n) for g, n in groups.most_common()},
            "functions": {f: pct(n) for f, n in ours.most_common(top)}}


def markdown(data: dict) -> str:
    lines = [f"{data['samples']} samples (py-spy, 250 Hz, idle threads excluded)", "", "| where | share |",
             "|---|---:|"]
    lines += [f"| {g} | {share:.1f} % |" for g, share in data["groups"].items()]
    lines += ["", "Inside the handler, by innermost Python function:", "", "| function | share of all samples |",
              "|---|---:|"]
    lines += [f"| `{f}` | {share:.1f} % |" for f, share in data["functions"].items()]
    return "\n".join(lines)


def summarise(path: Path, top: int = 12) -> str:
    text = markdown(shares(path, top))
    path.with_name("profile-check.md").write_text(text + "\n")
    print(text)
    return text


if __name__ == "__main__":
    main()
