"""`python -m bench.caddy_variants`: which server `ostiary serve` should run
behind Caddy. One Caddy (the Debian package, or CADDY=/path) runs Ostiary's
generated Caddy snippet for the app four times side by side, each site on its
own HTTPS port, and wrk loads them in interleaved rounds:

- `caddy_alone`: the snippet's site without its `forward_auth` (Caddy and the
  backend only): what a request costs with no check at all;
- `granian`: the snippet as generated, Ostiary on `ostiary serve --server granian`;
- `uvicorn`: the same, Ostiary on uvicorn (`ostiary serve`'s default);
- `bare_granian`: the same, in front of bench/bare_app.py's ASGI handler on granian,
  which answers every check 200 and does nothing else.

Each Ostiary and the bare handler run one worker on uvloop. Not part of
`bench/run`; its findings are in docs/proxies/caddy.md ("Performance").

    .venv/bin/python -m bench.caddy_variants [--rounds 5] [--seconds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path

from bench.cases import log
from bench.nginx_variants import _interleaved, print_table
from bench.servers import BareServer, ensure_secret_key, free_port, ostiary, worker_pids
from bench.world import APP_HOST, build_small, check_headers, mint_cookie
from ostiary.config import load_settings
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.store import open_store
from tests.support.proxies import CaddyServer, caddy_global_options
from tests.support.tls import issue_certificates

_FORWARD_AUTH = re.compile(r"\n\t\t# Ask Ostiary;[^\n]*\n\t\tforward_auth [^{]*\{.*?\n\t\t\}\n", re.DOTALL)


def site(snippet: str, *, public_port: int, port: int, upstream_port: int | None, backend_port: int,
         cert: Path, key: Path) -> str:
    """The snippet's site block on `port` for any host name (TLS with the test certificate, which names
    127.0.0.1 too: wrk sends that as the server name), its check sent to `upstream_port`, or no
    `forward_auth` at all when None, and its app to the backend."""
    head = f"https://{APP_HOST}:{public_port} {{"
    if snippet.count(head) != 1 or "reverse_proxy http://127.0.0.1:3000 {" not in snippet:
        raise ValueError("the Caddy snippet changed shape; update bench/caddy_variants.py")
    block = snippet[snippet.index(head):]
    block = block.replace(head, f"https://:{port} {{\n\ttls {cert} {key}", 1)
    block = block.replace("reverse_proxy http://127.0.0.1:3000 {", f"reverse_proxy http://127.0.0.1:{backend_port} {{")
    if upstream_port is None:
        block, n = _FORWARD_AUTH.subn("\n", block)
    else:
        block, n = re.subn(r"forward_auth http://127\.0\.0\.1:\d+ \{", f"forward_auth http://127.0.0.1:{upstream_port} {{",
                           block)
    if n != 1:
        raise ValueError("cannot find the forward_auth block in the Caddy snippet")
    return block


def caddyfile(snippet: str, *, public_port: int, ports: dict[str, int], upstreams: dict[str, int | None],
              backend_port: int, cert: Path, key: Path) -> str:
    """Every site of `ports` (name -> port; its check to upstreams[name], None for none), a backend
    answering 200 on `backend_port`, no admin API and no redirects."""
    text = caddy_global_options(http_port=free_port(), https_port=free_port(),
                                extra="\tauto_https disable_redirects\n")
    text += "".join(site(snippet, public_port=public_port, port=port, upstream_port=upstreams[name],
                         backend_port=backend_port, cert=cert, key=key) + "\n" for name, port in ports.items())
    return text + f"http://:{backend_port} {{\n\trespond \"app\" 200\n}}\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.caddy_variants")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[16])
    args = parser.parse_args()
    binary = os.environ.get("CADDY") or shutil.which("caddy") or "/usr/bin/caddy"
    work = Path(tempfile.mkdtemp(prefix="ostiary-caddy-variants-"))
    ensure_secret_key(work)
    names = ("caddy_alone", "granian", "uvicorn", "bare_granian")
    ports = {name: free_port() for name in names}
    public, backend = ports["granian"], free_port()
    url = f"sqlite:///{work / 'small.db'}"
    world = build_small(url, public)
    store = open_store(url)
    _, cookie = mint_cookie(store, world)
    cookie_header = check_headers(world, cookie)["Cookie"]
    on_granian = ostiary(url, free_port(), 1, work, server="granian")
    on_uvicorn = ostiary(url, free_port(), 1, work, server="uvicorn")
    bare = BareServer(free_port(), work, loop="uvloop")
    try:
        tls = issue_certificates(work / "tls", [APP_HOST, "127.0.0.1"])
        settings = load_settings(database_url=url, data_dir=work, public_port=public,
                                 proxy_upstream=f"http://127.0.0.1:{on_granian.port}")
        snippet = snippet_for_app(store, settings, world.tenant_id, "app", "caddy")
        upstreams = {"caddy_alone": None, "granian": on_granian.port, "uvicorn": on_uvicorn.port,
                     "bare_granian": bare.port}
        config = caddyfile(snippet, public_port=public, ports=ports, upstreams=upstreams, backend_port=backend,
                           cert=tls.cert_chain, key=tls.private_key)
        (work / "Caddyfile.txt").write_text(config)
        headers = {"Host": f"{APP_HOST}:{public}", "Accept": "text/html", "Cookie": cookie_header}
        with CaddyServer(config, binary=binary, ports=[*ports.values(), backend], workdir=work / "caddy") as caddy:
            caddy_pids = [caddy.process.pid]
            pids = {"caddy_alone": [], "granian": worker_pids(on_granian.proc.pid, on_granian.port),
                    "uvicorn": worker_pids(on_uvicorn.proc.pid, on_uvicorn.port),
                    "bare_granian": worker_pids(bare.proc.pid, bare.port)}
            targets = {n: (f"https://127.0.0.1:{ports[n]}/", headers, caddy_pids, pids[n]) for n in names}
            runs = _interleaved(targets, args.connections, args.rounds, args.seconds)
    finally:
        on_granian.stop()
        on_uvicorn.stop()
        bare.stop()
    print(f"config: {work / 'Caddyfile.txt'}; Caddy: {binary}")
    for c in args.connections:
        print(f"\n{c} connections, {args.rounds} interleaved rounds of {args.seconds} s; ratios are medians of "
              "per-round ratios; CPU is µs per request")
        print_table(runs, c, {"to alone": "caddy_alone", "to granian": "granian"}, ("Caddy CPU", "Ostiary CPU"))


if __name__ == "__main__":
    log("Caddy: which server behind forward_auth")
    main()
