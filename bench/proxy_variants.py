"""`python -m bench.proxy_variants`: a protected request through Traefik and
through HAProxy, each with Ostiary's generated snippet, beside the same proxy
without the check and beside the snippet asking a bare handler. One Traefik
(its static configuration and local plugin as `ostiary snippet --ostiary`
renders them) and one HAProxy (Ostiary's haproxy.cfg with the shipped Lua
action) each run three sites side by side, told apart by the Host header;
the app is one nginx answering 200. wrk loads every site in interleaved rounds.

For each proxy:
- `<proxy>_alone`: the app's route without the check (Traefik: no middlewares;
  HAProxy: none of the snippet's `http-request` lines): what a request costs
  the proxy with no check at all. Neither proxy can answer a forward-auth check
  itself, so this floor has no subrequest at all, unlike nginx's (whose floor
  answers `auth_request` itself) and is the stricter one;
- `<proxy>_ostiary`: the snippet as generated, Ostiary on `ostiary serve`'s
  default server (uvicorn, uvloop, one worker);
- `<proxy>_bare`: the same snippet asking bench/bare_app.py's handler on
  uvicorn, which answers every check 200 with no identity and does nothing
  else: what any check costs the proxy, Ostiary's own work aside;
- `<proxy>_bare_granian`: the same bare handler on granian (uvloop).

Not part of `bench/run` (no target names these proxies); its findings are
in docs/proxies/traefik.md and docs/proxies/haproxy.md ("Performance").

    .venv/bin/python -m bench.proxy_variants [--rounds 5] [--seconds 3] [--connections 16] [--only traefik]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from bench.cases import log
from bench.nginx_config import BenchNginx
from bench.nginx_variants import _interleaved, print_table
from bench.servers import BareServer, descendants, ensure_secret_key, free_port, ostiary, worker_pids
from bench.world import APP_HOST, build_small, check_headers, mint_cookie
from ostiary.config import load_settings
from ostiary.proxies.haproxy import assemble, lua_script, render_ostiary_haproxy
from ostiary.proxies.ostiary_traefik import render_ostiary_traefik_static
from ostiary.proxies.traefik import write_plugin
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.store import open_store
from tests.support.proxies import HAProxyServer, TraefikServer, haproxy_pem, traefik_tls_file
from tests.support.tls import issue_certificates

PROXIES = ("traefik", "haproxy")
SITES = ("alone", "ostiary", "bare", "bare_granian")
_APP = "http://127.0.0.1:3000"


def _host(site: str) -> str:
    """The host name each site answers: the app's own for Ostiary's (its check must name the app)."""
    return APP_HOST if site == "ostiary" else f"{site.replace('_', '-')}.{APP_HOST}"


def traefik_dynamic(snippet: str, *, site: str, check_port: int, backend_port: int) -> str:
    """The snippet's router, middlewares and service renamed for `site`: its rule on the site's
    host, its check to `check_port` (none for `alone`), its app on the backend."""
    if snippet.count('rule: "Host(`' + APP_HOST + '`)"') != 1 or snippet.count(f'- url: "{_APP}"') != 1:
        raise ValueError("the Traefik snippet changed shape; update bench/proxy_variants.py")
    text = snippet.replace('rule: "Host(`' + APP_HOST + '`)"', 'rule: "Host(`' + _host(site) + '`)"')
    text = text.replace(f'- url: "{_APP}"', f'- url: "http://127.0.0.1:{backend_port}"')
    text = re.sub(r"\bostiary-app-", f"ostiary-{site}-", text)
    text = text.replace("\n    app:\n", f"\n    {site}:\n").replace('service: "app"', f'service: "{site}"')
    text, n = re.subn(r'address: "http://127\.0\.0\.1:\d+/', f'address: "http://127.0.0.1:{check_port}/', text)
    if n != 1:
        raise ValueError("cannot find the forwardAuth address in the Traefik snippet")
    if site == "alone":
        text, n = re.subn(r"\n\s*middlewares: \[[^\]]*\]\n", "\n", text, count=1)
        if n != 1:
            raise ValueError("cannot find the router's middlewares in the Traefik snippet")
    return text


def haproxy_snippet(snippet: str, *, site: str, check_port: int, backend_port: int, public_port: int) -> str:
    """The snippet's two parts renamed for `site`: its host, its check to `check_port`, no
    `http-request` lines at all for `alone`, its app on the backend."""
    host_test = f"req.hdr(host) -i {APP_HOST}:{public_port}"
    if host_test not in snippet or "server app 127.0.0.1:3000" not in snippet:
        raise ValueError("the HAProxy snippet changed shape; update bench/proxy_variants.py")
    text = snippet.replace(host_test, f"req.hdr(host) -i {_host(site)}:{public_port}")
    text = text.replace("ostiary_app", f"ostiary_{site}").replace("server app 127.0.0.1:3000",
                                                                     f"server app 127.0.0.1:{backend_port}")
    text, n = re.subn(r"(lua\.ostiary-check http://127\.0\.0\.1:)\d+/", rf"\g<1>{check_port}/", text)
    if n != 1:
        raise ValueError("cannot find the Lua check in the HAProxy snippet")
    if site == "alone":
        text = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("http-request"))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy_variants")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[16])
    parser.add_argument("--only", choices=PROXIES, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ostiary-proxy-variants-"))
    ensure_secret_key(work)
    proxies = [args.only] if args.only else list(PROXIES)
    # One port for every proxy, one after the other: the app's URL (and so its check) names it.
    port, backend = free_port(), free_port()
    url = f"sqlite:///{work / 'small.db'}"
    world = build_small(url, port)
    store = open_store(url)
    try:
        _, cookie = mint_cookie(store, world)
    finally:
        store.dispose()
    server = ostiary(url, free_port(), 1, work)
    bare = BareServer(free_port(), work, loop="uvloop", interface="uvicorn")
    bare_granian = BareServer(free_port(), work, loop="uvloop")
    results, configs = {}, {}
    try:
        tls = issue_certificates(work / "tls", [APP_HOST, f"*.{APP_HOST}", "127.0.0.1"])
        app_nginx = BenchNginx(f"access_log off;\nserver {{\n\tlisten 127.0.0.1:{backend};\n"
                               f"\tlocation / {{ return 200 \"app\\n\"; }}\n}}\n", [backend], work / "nginx")
        with app_nginx:
            for kind in proxies:
                results[kind], configs[kind] = _measure(kind, port, url, world, cookie, work, server,
                                                        {"bare": bare, "bare_granian": bare_granian}, backend, tls,
                                                        args)
    finally:
        server.stop()
        bare.stop()
        bare_granian.stop()
    for kind in proxies:
        print(f"\n{kind}: config {configs[kind]}")
        for c in args.connections:
            print(f"{c} connections, {args.rounds} interleaved rounds of {args.seconds} s; ratios are medians of "
                  "per-round ratios; CPU is µs per request")
            print_table(results[kind], c, {"to alone": f"{kind}_alone", "to bare": f"{kind}_bare"},
                        ("proxy CPU", "check CPU"))


def _measure(kind: str, port: int, url: str, world, cookie: str, work: Path, server, bares: dict, backend: int, tls,
             args):
    """(runs, config path) for one proxy's sites (SITES)."""
    store = open_store(url)
    try:
        settings = load_settings(database_url=url, data_dir=work, public_port=port,
                                 proxy_upstream=f"http://127.0.0.1:{server.port}")
        snippet = snippet_for_app(store, settings, world.tenant_id, "app", kind)
    finally:
        store.dispose()
    checks = {"alone": server.port, "ostiary": server.port, **{name: bare.port for name, bare in bares.items()}}
    folder = work / kind
    folder.mkdir(exist_ok=True)
    if kind == "traefik":
        static = render_ostiary_traefik_static(https_address=f"127.0.0.1:{port}", dynamic_directory="{dynamic_dir}",
                                               log_level="ERROR")
        dynamic = {f"{site}.yml": traefik_dynamic(snippet, site=site, check_port=checks[site], backend_port=backend)
                   for site in SITES}
        dynamic["tls.yml"] = traefik_tls_file(tls.cert_chain, tls.private_key)
        write_plugin(folder)
        proxy = TraefikServer(static, dynamic, ports=[port], workdir=folder)
        config = folder / "traefik.yml"
    else:
        base = render_ostiary_haproxy(f"127.0.0.1:{server.port}", https_bind=f"127.0.0.1:{port}",
                                      certificates="{workdir}/site.pem", lua_path="{workdir}/ostiary_forward_auth.lua")
        text = assemble(base, [haproxy_snippet(snippet, site=site, check_port=checks[site], backend_port=backend,
                                               public_port=port) for site in SITES])
        proxy = HAProxyServer(text, {"ostiary_forward_auth.lua": lua_script(),
                                     "site.pem": haproxy_pem(tls.cert_chain, tls.private_key)},
                              ports=[port], workdir=folder)
        config = folder / "haproxy.cfg"
    cookie_header = check_headers(world, cookie)["Cookie"]
    with proxy:
        proxy_pids = [proxy.process.pid, *descendants(proxy.process.pid)]
        check_pids = {"alone": [], "ostiary": worker_pids(server.proc.pid, server.port),
                      **{name: [bare.proc.pid, *descendants(bare.proc.pid)] for name, bare in bares.items()}}
        targets = {f"{kind}_{site}": (f"https://127.0.0.1:{port}/",
                                      {"Host": f"{_host(site)}:{port}", "Accept": "text/html", "Cookie": cookie_header},
                                      proxy_pids, check_pids[site])
                   for site in SITES}
        _expect_allowed(targets)
        log(f"{kind}: {len(SITES)} sites, {args.rounds} rounds")
        return _interleaved(targets, args.connections, args.rounds, args.seconds), config


def _expect_allowed(targets: dict, wait: float = 30) -> None:
    """Each site answers the app's 200 before any round (a misrouted site would measure a refusal),
    waiting while the proxy still loads its configuration (Traefik's file provider does it after
    the port opens)."""
    import http.client
    import ssl
    import time

    deadline = time.monotonic() + wait
    for name, (target, headers, *_) in targets.items():
        while True:
            try:
                conn = http.client.HTTPSConnection(target.split("//")[1].split("/")[0], timeout=10,
                                                   context=ssl._create_unverified_context())  # noqa: S323 - loopback
                conn.request("GET", "/", headers=headers)
                resp = conn.getresponse()
                got = (resp.status, resp.read())
            except OSError as exc:
                got = (None, repr(exc).encode())
            if got == (200, b"app\n"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} answered {got[0]} {got[1][:200]!r}, not the app's 200")
            time.sleep(0.5)


if __name__ == "__main__":
    log("Traefik and HAProxy: the snippet against the proxy alone and a bare check")
    main()
