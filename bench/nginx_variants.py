"""`python -m bench.nginx_variants`: where case 2's gap lies. One nginx runs,
side by side, nginx answering `auth_request` itself (the floor), the shipped
snippet, and variants of the snippet's check location and upstream; wrk
loads each in interleaved rounds and the ratio to the floor is reported.
Not part of `bench/run`; its findings are in docs/proxies/nginx.md.

    .venv/bin/python -m bench.nginx_variants [--rounds 5] [--seconds 3] [--connections 16] [--pin-nginx CPU]

Variants (each edits only what it names; every other line is the shipped snippet):
- `no_keepalive`: the upstream without `keepalive` (a new TCP connection per check);
- `keepalive_64`: `keepalive 64` and `keepalive_requests 100000` (the shipped pool is 16);
- `lean_headers`: `proxy_pass_request_headers off`, then only the headers /check reads
  (Cookie, Accept, Sec-Fetch-Mode, X-Requested-With) set explicitly;
- `buffers`: `proxy_buffering off` for the check;
- `minimal`: `lean_headers` and `buffers` together, and no `X-Forwarded-For` (which /check does not read);
- `two_workers`: the shipped snippet against an Ostiary with 2 granian workers;
- `loop_rloop`, `loop_asyncio`: the shipped snippet against an Ostiary on granian on that event loop
  (`OSTIARY_EVENT_LOOP`; `ostiary serve` runs uvloop);
- `uvicorn`: the shipped snippet against an Ostiary served by `ostiary serve --server uvicorn`
  (one process, uvloop and httptools: the whole request on one thread, where granian hands each
  request from its Rust thread to the Python one); bench/run measures it in case 2 too;
- `uvicorn_asgi`: the same, but with uvicorn's own httptools protocol, so every check goes through
  uvicorn's ASGI task path instead of being answered while its headers are parsed
  (ostiary/gate/uvicorn_protocol.py): what that protocol saves;
- `unix_socket`: the shipped snippet against an Ostiary (uvloop) listening on a Unix domain
  socket (`server unix:PATH;` in the upstream) instead of loopback TCP;
- `uvicorn_unix_socket`: the same with Ostiary served as `ostiary serve --server uvicorn` serves it;
- `bare_upstream`: the shipped snippet against bench/bare_app.py's ASGI handler (granian, uvloop,
  one worker) answering every check 200 with no identity: what any Python handler on granian
  costs under nginx, Ostiary's own work aside;
- `get_check`: the check asked with GET instead of HEAD (the snippet before `proxy_method HEAD`),
  loaded by a browser that is not signed in, beside `shipped_anonymous` (the shipped snippet, the
  same browser): nginx closes a kept-alive connection after an answer with a body it did not read,
  so with GET every refused request opened a new connection to Ostiary;
- `bare_uvicorn`: the same bare handler served by uvicorn (uvloop, httptools), as `ostiary serve` serves Ostiary;
- `granian`: the shipped snippet against an Ostiary served by `ostiary serve --server granian`;
- `floor_identity` (always run): the floor, its `auth_request_set` lines giving the identity values
  Ostiary's allowed answer gives, so the app gets the same request as through the snippet;
- `ostiary_alone`: wrk straight at Ostiary's /check with the headers nginx sends
  (no nginx at all), for scale.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
from pathlib import Path

from bench import cases
from bench.cases import log
from bench.nginx_config import FLOOR_MARK, BenchNginx, http_block, shipped_copy
from bench.servers import BareServer, descendants, ensure_secret_key, free_port, ostiary, worker_pids
from bench.world import APP_HOST, build_small, check_headers, mint_cookie
from bench.wrk import run_wrk
from ostiary.config import load_settings
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.store import open_store
from tests.support.tls import issue_certificates

# The variants measured on granian (docs/proxies/nginx.md) keep it; bench.servers.ostiary runs uvicorn.
_OWN_OSTIARY = {"two_workers": (2, {"server": "granian"}),
                "loop_rloop": (1, {"server": "granian", "OSTIARY_EVENT_LOOP": "rloop"}),
                "loop_asyncio": (1, {"server": "granian", "OSTIARY_EVENT_LOOP": "asyncio"}),
                "uvicorn": (1, {"server": "uvicorn"}), "granian": (1, {"server": "granian"})}
_CHECK_HEAD = "\tlocation = /_ostiary_check {\n\t\tinternal;\n"
_LEAN = ("\t\tproxy_pass_request_headers off;\n\t\tproxy_set_header Cookie $http_cookie;\n"
         "\t\tproxy_set_header Accept $http_accept;\n\t\tproxy_set_header Sec-Fetch-Mode $http_sec_fetch_mode;\n"
         "\t\tproxy_set_header X-Requested-With $http_x_requested_with;\n")


def _variant(block: str, name: str, app_port: int, port: int, upstream_port: int | None = None,
             socket_path: str = "") -> str:
    """The shipped server block and upstream under new names, on `port`, edited for `name`."""
    text = shipped_copy(block, name, app_port, port, upstream_port)
    if name.endswith("unix_socket"):
        text = re.sub(r"server 127\.0\.0\.1:\d+;", f"server unix:{socket_path};", text, count=1)
    if name == "no_keepalive":
        text = text.replace("\tkeepalive 16;\n", "")
    elif name == "keepalive_64":
        text = text.replace("\tkeepalive 16;\n", "\tkeepalive 64;\n\tkeepalive_requests 100000;\n")
    elif name == "lean_headers":
        text = text.replace(_CHECK_HEAD, _CHECK_HEAD + _LEAN)
    elif name == "get_check":
        if text.count("\t\tproxy_method HEAD;\n") != 1:
            raise ValueError("the snippet's check no longer asks with HEAD; update bench/nginx_variants.py")
        text = text.replace("\t\tproxy_method HEAD;\n", "")
    elif name == "buffers":
        text = text.replace(_CHECK_HEAD, _CHECK_HEAD + "\t\tproxy_buffering off;\n")
    elif name == "minimal":
        text = text.replace(_CHECK_HEAD, _CHECK_HEAD + _LEAN + "\t\tproxy_buffering off;\n")
        text = text.replace("\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\t\t# The browser's",
                            "\t\t# The browser's")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.nginx_variants")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[16])
    parser.add_argument("--only", nargs="*", default=None, help="variant names to run besides floor and shipped")
    parser.add_argument("--pin-nginx", type=int, default=None, metavar="CPU",
                        help="pin nginx's processes to this CPU (as `worker_cpu_affinity` would), "
                             "and Ostiary's and wrk's to the others")
    args = parser.parse_args()
    import os

    if args.pin_nginx is not None:  # everything but nginx (Ostiary, wrk) on the other CPUs
        os.sched_setaffinity(0, os.sched_getaffinity(0) - {args.pin_nginx})

    work = Path(tempfile.mkdtemp(prefix="ostiary-nginx-variants-"))
    ensure_secret_key(work)
    ports = {k: free_port() for k in ("ostiary", "nginx", "floor", "backend", "floor_identity")}
    url = f"sqlite:///{work / 'small.db'}"
    world = build_small(url, ports["nginx"])
    store = open_store(url)
    _, cookie = mint_cookie(store, world)
    headers = check_headers(world, cookie)
    names = ["no_keepalive", "keepalive_64", "lean_headers", "buffers", "minimal", *_OWN_OSTIARY, "uvicorn_asgi",
             "unix_socket", "uvicorn_unix_socket", "bare_upstream", "bare_uvicorn", "get_check"]
    if args.only is not None:
        names = [n for n in names if n in args.only]
    one = ostiary(url, ports["ostiary"], 1, work)
    # Variants with an Ostiary of their own: {name: server}.
    own = {}
    for name in names:
        if name in _OWN_OSTIARY:
            workers, env = _OWN_OSTIARY[name]
            own[name] = ostiary(url, free_port(), workers, work, **env)
    uds, bare = {}, None  # {variant: (server process, socket path)}
    if "bare_upstream" in names:
        bare = BareServer(free_port(), work, loop="uvloop")
    if "bare_uvicorn" in names:
        own["bare_uvicorn"] = BareServer(free_port(), work, loop="uvloop", interface="uvicorn")
    if "uvicorn_asgi" in names:
        os.environ.update({"OSTIARY_DATABASE_URL": url, "OSTIARY_DATA_DIR": str(work), "OSTIARY_LOG_LEVEL": "warning"})
        own["uvicorn_asgi"] = BareServer(free_port(), work, factory="create_ostiary", loop="uvloop",
                                         interface="uvicorn_asgi")
    for name, server in (("unix_socket", "granian"), ("uvicorn_unix_socket", "uvicorn")):
        if name in names:
            path = str(work / f"{name}.sock")
            uds[name] = (_unix_socket_ostiary(url, work, path, server=server), path)
    try:
        tls = issue_certificates(work / "tls", [APP_HOST])
        settings = load_settings(database_url=url, data_dir=work, public_port=ports["nginx"],
                                 proxy_upstream=f"http://127.0.0.1:{ports['ostiary']}")
        snippet = snippet_for_app(store, settings, world.tenant_id, "app", "nginx")
        block = http_block(snippet, app_host=APP_HOST, app_port=ports["nginx"], floor_port=ports["floor"],
                           backend_port=ports["backend"], cert=tls.cert_chain, key=tls.private_key, workdir=work)
        variant_ports = {name: free_port() for name in names}
        extra = "".join(
            _variant(block, name, ports["nginx"], variant_ports[name],
                     own[name].port if name in own else bare.port if name == "bare_upstream" else None,
                     uds[name][1] if name in uds else "")
            for name in names)
        extra += _floor_identity(block, ports["floor"], ports["floor_identity"], _identity(ports["ostiary"], headers))
        (work / "variants.conf").write_text(block + extra)
        app_headers = {"Host": f"{APP_HOST}:{ports['nginx']}", "Accept": "text/html", "Cookie": headers["Cookie"]}
        anonymous = {"Host": f"{APP_HOST}:{ports['nginx']}", "Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
        with BenchNginx(block + extra, [ports["nginx"], ports["floor"], ports["backend"], ports["floor_identity"],
                                        *variant_ports.values()],
                        work / "nginx") as nginx:
            nginx_pids = descendants(nginx.process.pid)
            if args.pin_nginx is not None:
                for pid in [nginx.process.pid, *nginx_pids]:
                    os.sched_setaffinity(pid, {args.pin_nginx})
            one_pids = worker_pids(one.proc.pid, one.port)
            # (url, headers, nginx pids, Ostiary pids): the CPU of each side is recorded apart.
            targets = {"floor": (f"https://127.0.0.1:{ports['floor']}/", app_headers, nginx_pids, []),
                       "floor_identity": (f"https://127.0.0.1:{ports['floor_identity']}/", app_headers, nginx_pids, []),
                       "shipped": (f"https://127.0.0.1:{ports['nginx']}/", app_headers, nginx_pids, one_pids),
                       "ostiary_alone": (f"http://127.0.0.1:{ports['ostiary']}/forward-auth/check?not-signed-in=401",
                                         headers, [], one_pids)}
            for name in names:
                pids = (worker_pids(own[name].proc.pid, own[name].port) if name in own
                        else [uds[name][0].pid, *descendants(uds[name][0].pid)] if name in uds
                        else descendants(bare.proc.pid) if name == "bare_upstream" else one_pids)
                targets[name] = (f"https://127.0.0.1:{variant_ports[name]}/",
                                 anonymous if name == "get_check" else app_headers, nginx_pids, pids)
            if "get_check" in names:
                targets["shipped_anonymous"] = (f"https://127.0.0.1:{ports['nginx']}/", anonymous, nginx_pids, one_pids)
            runs = _interleaved(targets, args.connections, args.rounds, args.seconds)
    finally:
        one.stop()
        for server in own.values():
            server.stop()
        if bare is not None:
            bare.stop()
        for proc, _ in uds.values():
            os.killpg(proc.pid, 15)
            proc.wait()
    print(f"config: {work / 'variants.conf'}")
    for c in args.connections:
        print(f"\n{c} connections, {args.rounds} interleaved rounds of {args.seconds} s; ratios are medians of "
              "per-round ratios; CPU is µs per request")
        print_table(runs, c, {"to floor": "floor", "to shipped": "shipped"}, ("nginx CPU", "Ostiary CPU"))


def print_table(runs: dict, c: int, refs: dict[str, str], cpu: tuple[str, str], width: int = 22) -> None:
    """_interleaved's `runs` at `c` connections, a line per target: requests/s, answers other
    than 2xx, the median per-round ratio to each target of `refs` ({column: target}), and the
    CPU per request of the proxy's and the check's processes (their columns named by `cpu`)."""
    print(f"{'target':<{width}}{'req/s':>10}{'non-2xx':>9}" + "".join(f"{label:>12}" for label in refs)
          + f"{cpu[0]:>12}{cpu[1]:>13}")
    for name, by_c in runs.items():
        a = by_c[c]
        ratios = "".join(f"{statistics.median(x['rps'] / y['rps'] for x, y in zip(a, runs[ref][c])):>12.2f}"
                         for ref in refs.values())
        print(f"{name:<{width}}{statistics.median(x['rps'] for x in a):>10,.0f}{sum(x['non2xx'] for x in a):>9}"
              f"{ratios}{statistics.median(x['nginx_us'] for x in a):>12.1f}"
              f"{statistics.median(x['ostiary_us'] for x in a):>13.1f}")


def _identity(port: int, headers: dict) -> dict[str, str]:
    """The identity headers Ostiary's allowed answer carries for `headers`."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("HEAD", "/forward-auth/check?not-signed-in=401", headers=headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"the check answered {resp.status}, not 200")
    # http.client reads header bytes as Latin-1; Ostiary writes UTF-8.
    return {k.lower(): v.encode("latin-1").decode("utf-8") for k, v in resp.getheaders()
            if k.lower().startswith("x-forwarded-")}


def _floor_identity(block: str, floor_port: int, port: int, identity: dict[str, str]) -> str:
    """The floor's server block on `port`, its auth_request_set lines giving the identity
    Ostiary's answer gives: the app gets the same request, only the check is nginx's own."""
    floor = block.split(FLOOR_MARK)[1]
    floor = floor[:floor.index("server {\n\tlisten 127.0.0.1:")]  # not the backend
    floor = floor.replace(f"listen {floor_port} ssl;", f"listen {port} ssl;")
    for name, value in identity.items():
        var = "$upstream_http_" + name.replace("-", "_")
        if var not in floor:
            raise ValueError(f"the floor has no {var}")
        floor = floor.replace(var, '"' + value.replace('"', '\\"') + '"')
    return floor


def _unix_socket_ostiary(url: str, work: Path, path: str, server: str = "granian"):
    """One worker of Ostiary's app on a Unix domain socket, as `ostiary serve --server SERVER` runs it otherwise."""
    import os
    import subprocess
    import sys
    import time

    env = {**os.environ, "OSTIARY_DATABASE_URL": url, "OSTIARY_DATA_DIR": str(work), "OSTIARY_LOG_LEVEL": "warning"}
    code = ("from pathlib import Path; from granian import Granian; from granian.constants import Interfaces, Loops;"
            "from ostiary.serving import APP_FACTORY;"
            f"Granian(APP_FACTORY, uds=Path({path!r}), interface=Interfaces.ASGI, workers=1, factory=True,"
            " loop=Loops('uvloop')).serve()")
    if server == "uvicorn":
        code = ("import uvicorn; from ostiary.serving import APP_FACTORY, UVICORN_OPTIONS;"
                f"uvicorn.run(APP_FACTORY, factory=True, uds={path!r}, loop='uvloop', log_level='warning',"
                " **UVICORN_OPTIONS)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True,
                            stdout=open(work / "uds.log", "ab"), stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(3)  # the worker loads its snapshot
    return proc


def _interleaved(targets: dict, concurrencies: list[int], rounds: int, seconds: float) -> dict:
    out = {name: {c: [] for c in concurrencies} for name in targets}
    for url, headers, *_ in targets.values():
        run_wrk(url, headers, 16, 1)  # warm-up
    for r in range(rounds):
        for c in concurrencies:
            names = list(targets)
            random.shuffle(names)
            for name in names:
                url, headers, nginx_pids, ostiary_pids = targets[name]
                before = cases.cpu_seconds(nginx_pids), cases.cpu_seconds(ostiary_pids)
                run = vars(run_wrk(url, headers, c, seconds))
                run["nginx_us"] = (cases.cpu_seconds(nginx_pids) - before[0]) / run["requests"] * 1e6
                run["ostiary_us"] = (cases.cpu_seconds(ostiary_pids) - before[1]) / run["requests"] * 1e6
                out[name][c].append(run)
        log(f"  round {r + 1}/{rounds} done")
    return out


if __name__ == "__main__":
    log("nginx variants")
    main()
