"""A deployment made of real parts: N `ostiary serve` processes (granian,
several workers each, HTTPS) on one database, optionally behind a real nginx
that round-robins to them, plus the tools to watch a change reach every one:
a visitor that can be pinned to one instance, a probe that checks a cookie on
each instance directly and through nginx's auth_request with fresh
connections (so every worker is reached), and a throwaway PostgreSQL cluster
that a test may stop and start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ostiary.services.rules import sessions, users
from ostiary.store import Store
from ostiary.wire import SESSION_COOKIE
from tests.support.dnsserver import Dnsmasq
from tests.support.proxies import NginxServer
from tests.support.server import LoopbackTransport, free_port
from tests.support.tls import issue_certificates
from tests.support.visitor import Visitor
from tests.support.world import CERTIFICATE_HOSTS, PASSWORD, SCALEOUT, TENANT_HOST, World, serve, server_env

APP_HOST = "grafana.acme-corp.test"
PORTALS = SCALEOUT.portals()
PORTAL = PORTALS[APP_HOST]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


# -- the people every deployment starts with (tests/support/world.py's SCALEOUT) -------------


# -- reaching one instance or the proxy ------------------------------------------------------


class RoutedTransport(LoopbackTransport):
    """Sends every request to 127.0.0.1 on `route()` (or the URL's own port
    when it returns None), keeping the Host header, port included, and SNI."""

    def __init__(self, route, **kwargs):
        super().__init__(**kwargs)
        self.route = route

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = httpx.Request(
            request.method, request.url.copy_with(host="127.0.0.1", port=self.route() or request.url.port),
            headers=request.headers, stream=request.stream,
            extensions={**request.extensions, "sni_hostname": request.url.host},
        )
        return httpx.HTTPTransport.handle_request(self, sent)


def routed_client(ca_cert: Path, route) -> httpx.Client:
    import ssl

    ctx = ssl.create_default_context(cafile=str(ca_cert))
    return httpx.Client(transport=RoutedTransport(route, verify=ctx), follow_redirects=False, timeout=10)


class RoutedVisitor(Visitor):
    """A Visitor whose browser and proxy legs go wherever `via` says: an
    instance's port, or None for the public port (nginx)."""

    def __init__(self, public_port: int, ca_cert: Path, login: str | None = None, password: str = PASSWORD):
        super().__init__(public_port, ca_cert, dict(PORTALS), login=login, password=password)
        self.browser.close()
        self.proxy.close()
        self.via: int | None = None
        self.browser = routed_client(ca_cert, lambda: self.via)
        self.proxy = routed_client(ca_cert, lambda: self.via)

    def forward_auth_cookie(self) -> str:
        return self.cookies_for(f"https://{APP_HOST}:{self.port}/")


@dataclass
class Probe:
    """Checks one cookie on every target at once, each request on a fresh
    connection so that the workers behind a port are all reached."""

    ca_cert: Path
    public_port: int
    instance_ports: list[int]
    through_nginx: bool
    per_target: int = 2
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(16))

    def __post_init__(self):
        import ssl

        self._ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        self._client = httpx.Client(transport=LoopbackTransport(verify=self._ctx), timeout=5)

    def close(self) -> None:
        self._pool.shutdown()
        self._client.close()

    def check_instance(self, port: int, cookie: str) -> int:
        """The /check subrequest, sent straight to one instance."""
        headers = {
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": f"{APP_HOST}:{self.public_port}",
            "X-Forwarded-Uri": "/", "X-Forwarded-Method": "GET", "Accept": "text/html",
            "Sec-Fetch-Mode": "navigate", "Cookie": cookie, "Connection": "close",
        }
        return self._get(f"https://{PORTAL}:{port}/forward-auth/check", headers)

    def _get(self, url: str, headers: dict) -> int:
        # A TLS handshake that fails outright (granian's TLS under this much churn
        # has, rarely, answered a ClientHello with a decode_error alert) carries no
        # decision: connect again. Anything the server answered counts as it is.
        for attempt in range(3):
            try:
                return self._client.get(url, headers=headers).status_code
            except httpx.ConnectError as exc:
                if attempt == 2 or "DECODE_ERROR" not in str(exc):
                    raise
        raise AssertionError("unreachable")

    def open_app(self, cookie: str) -> int:
        """The app through nginx, whose auth_request asks one of the instances."""
        headers = {"Accept": "text/html", "Cookie": cookie, "Connection": "close"}
        return self._get(f"https://{APP_HOST}:{self.public_port}/", headers)

    def statuses(self, cookie: str) -> list[tuple[str, int]]:
        jobs = []
        for _ in range(self.per_target):
            for port in self.instance_ports:
                jobs.append((f"instance:{port}", self._pool.submit(self.check_instance, port, cookie)))
            if self.through_nginx:
                jobs.append(("nginx", self._pool.submit(self.open_app, cookie)))
        return [(name, job.result()) for name, job in jobs]

    def all_allowed(self, cookie: str) -> bool:
        return all(status == 200 for _, status in self.statuses(cookie))

    def wait_until_allowed(self, cookie: str, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.all_allowed(cookie):
            if time.monotonic() > deadline:
                raise AssertionError(f"not allowed everywhere after {timeout} s: {self.statuses(cookie)}")
            time.sleep(0.02)

    def refusal_delay(self, cookie: str, since: float, refused: set[int], limit: float = 3.0,
                      confirm: int = 1) -> float:
        """Seconds from `since` (time.monotonic) until a round in which every
        target refused; `confirm` more rounds must refuse too. Conservative:
        the end of the first fully-refusing round, not the first refusal."""
        first_refusing_end = None
        streak = 0
        while True:
            answers = self.statuses(cookie)
            now = time.monotonic()
            unexpected = [(n, s) for n, s in answers if s != 200 and s not in refused]
            assert not unexpected, f"unexpected answers: {unexpected}"
            if all(s in refused for _, s in answers):
                if first_refusing_end is None:
                    first_refusing_end = now
                streak += 1
                if streak > confirm:
                    return first_refusing_end - since
            else:
                assert first_refusing_end is None or now - since < limit, f"allowed again after refusing: {answers}"
                first_refusing_end, streak = None, 0
            if now - since > limit:
                raise AssertionError(f"still allowed {limit} s after the change: {answers}")


def summarise(label: str, delays: list[float]) -> str:
    ordered = sorted(delays)
    median = ordered[len(ordered) // 2]
    line = (f"{label}: {len(delays)} trials, worst {max(delays) * 1000:.0f} ms, "
            f"median {median * 1000:.0f} ms, best {min(delays) * 1000:.0f} ms")
    print("\n" + line)
    return line


# -- the processes ----------------------------------------------------------------------


def nginx_http_block(listen_port: int, instance_ports: list[int], cert: Path, key: Path, www: Path) -> str:
    """Round-robin to every instance; a failed connection is retried on the
    next one. Ostiary's own hosts are proxied whole; the app is guarded by
    auth_request as in the nginx snippet (401 carries the sign-in target)."""
    servers = "\n".join(f"\t\tserver 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in instance_ports)
    upstream_common = (
        "\t\tproxy_next_upstream error timeout;\n"
        "\t\tproxy_next_upstream_tries 0;\n"
        "\t\tproxy_connect_timeout 2s;\n"
        "\t\tproxy_http_version 1.1;\n"
        "\t\tproxy_ssl_protocols TLSv1.2 TLSv1.3;\n"  # granian speaks nothing older
    )
    return f"""
\tupstream ostiary {{
{servers}
\t}}
\tserver {{
\t\tlisten 127.0.0.1:{listen_port} ssl;
\t\tserver_name {PORTAL} {TENANT_HOST};
\t\tssl_certificate {cert};
\t\tssl_certificate_key {key};
\t\tlocation / {{
\t\t\tproxy_pass https://ostiary;
\t\t\tproxy_set_header Host $http_host;
\t\t\tproxy_set_header X-Forwarded-For $remote_addr;
{upstream_common}\t\t}}
\t}}
\tserver {{
\t\tlisten 127.0.0.1:{listen_port} ssl;
\t\tserver_name {APP_HOST};
\t\tssl_certificate {cert};
\t\tssl_certificate_key {key};
\t\troot {www};
\t\tlocation = /_ostiary_check {{
\t\t\tinternal;
\t\t\tproxy_pass https://ostiary/forward-auth/check?proxy=nginx;
\t\t\tproxy_pass_request_body off;
\t\t\tproxy_set_header Content-Length "";
\t\t\tproxy_set_header Host {PORTAL}:{listen_port};
\t\t\tproxy_set_header X-Forwarded-Proto $scheme;
\t\t\tproxy_set_header X-Forwarded-Host $http_host;
\t\t\tproxy_set_header X-Forwarded-Uri $request_uri;
\t\t\tproxy_set_header X-Forwarded-Method $request_method;
\t\t\tproxy_set_header Cookie $http_cookie;
{upstream_common}\t\t}}
\t\tlocation / {{
\t\t\tauth_request /_ostiary_check;
\t\t\ttry_files /index.html =404;
\t\t}}
\t}}
"""


@dataclass
class Deployment(World):
    """The world's servers are the instances; its port is nginx's (or, with no
    nginx, the one instance's)."""

    nginx: NginxServer | None = None
    ready_timeout: float = 30

    @property
    def public_port(self) -> int:
        return self.port

    @property
    def ca_cert(self) -> Path:
        return self.ca

    @property
    def instances(self) -> list:
        return self.servers

    @property
    def instance_ports(self) -> list[int]:
        return [s.port for s in self.instances]

    def visitor(self, login: str | None = None, password: str = PASSWORD) -> RoutedVisitor:
        return RoutedVisitor(self.public_port, self.ca_cert, login, password)

    def probe(self, per_target: int = 2) -> Probe:
        return Probe(self.ca_cert, self.public_port, self.instance_ports, self.nginx is not None, per_target)

    def app_url(self, path: str = "/") -> str:
        return self.url(APP_HOST, path)

    def portal_url(self, path: str) -> str:
        return self.url(PORTAL, path)

    def sign_in(self, login: str, via: int | None = None) -> RoutedVisitor:
        """A person signed in by walking the handshake (password included) on one instance."""
        v = self.visitor(login)
        v.via = via
        return self._reach_app(v)

    def handshake(self, login: str, via: int | None = None) -> RoutedVisitor:
        """A central session made by the service layer (no password hashing, to
        keep many trials fast), then the real handshake on one instance."""
        user = users.get_user(self.store, self.tenant_id, login)
        session = sessions.create_session(self.store, self.tenant_id, user.id)
        v = self.visitor()
        v.browser.cookies.set(SESSION_COOKIE, session.token, domain=TENANT_HOST, path="/")
        v.via = via
        return self._reach_app(v)

    def _reach_app(self, v: RoutedVisitor) -> RoutedVisitor:
        """`v` opens the app and must reach it. A change just committed (a user enabled
        again, say) reaches each instance's snapshot within the one-second bound, not
        at once: until then the instance still refuses that person during the
        handshake. The gate waits by itself only for a person its snapshot does not
        know at all (docs/contract.md §3, "A person just created"), not for one it
        knows as disabled, so retry within that bound. (Tried without: a handshake
        at once after enabling was refused with 403 in most tries on the SQLite
        deployment, whose follower polls; one for a person just created never was.)"""
        deadline = time.monotonic() + 2.0
        while True:
            try:
                visit = v.open(self.app_url("/"))
                if visit.reached_app or time.monotonic() > deadline:
                    break
            except AssertionError:  # round and round the handshake
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        assert visit.reached_app, [(s.url, s.status) for s in visit.steps]
        return v

    def sign_out(self, v: RoutedVisitor, via: int | None = None) -> float:
        """Signs out on the portal host through `via`; returns time.monotonic() at the answer."""
        v.via = via
        r = v.sign_out(PORTAL)
        assert r.status_code == 200 and "signed out" in r.text.lower(), (r.status_code, r.text[:300])
        return time.monotonic()

    def kill(self, index: int) -> None:
        proc = self.instances[index].proc
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def start(self, index: int) -> None:
        self.instances[index].start(ready_host=TENANT_HOST, ca_cert=self.ca_cert, timeout=self.ready_timeout)

    def readiness(self, port: int) -> httpx.Response:
        with routed_client(self.ca_cert, lambda: port) as client:
            return client.get(f"https://{TENANT_HOST}:{port}/readyz", headers={"Connection": "close"})


@contextmanager
def deployment(tmp: Path, database_url: str, store: Store, *, instances: int = 2, workers: int = 2,
               with_nginx: bool = True, instance_env: tuple[dict, ...] = (), server: str = "uvicorn"):
    tls = issue_certificates(tmp / "tls", CERTIFICATE_HOSTS)
    public_port = free_port()
    ports = [free_port() for _ in range(instances)]
    if not with_nginx:
        public_port = ports[0]  # one instance, reached directly: its port is the public one
    with Dnsmasq() as dns:
        tenant_ids = SCALEOUT.populate(store, dns, public_port)
    d = Deployment(store, public_port, tls.ca_cert, tenant_ids, PORTALS)
    try:
        for i, port in enumerate(ports):
            data = tmp / f"instance-{i}"
            data.mkdir()
            env = server_env(database_url, public_port, data, **(instance_env[i] if i < len(instance_env) else {}))
            serve(d, env, port, tmp / f"instance-{i}.log", workers=workers, tls=(tls.cert_chain, tls.private_key),
                  server=server)
        if with_nginx:
            www = tmp / "www"
            www.mkdir()
            (www / "index.html").write_text("the app\n")
            d.nginx = NginxServer(nginx_http_block(public_port, ports, tls.cert_chain, tls.private_key, www),
                                  ports=[public_port], workdir=tmp / "nginx")
            d.nginx.start()
        yield d
    finally:
        if d.nginx is not None:
            d.nginx.stop()
        d.close()


# -- a PostgreSQL cluster of the test's own -----------------------------------------------


@dataclass
class ThrowawayPostgres:
    """`initdb` in a temporary directory, on its own port: the test may stop
    and start it. Never the machine's shared server."""

    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        # initdb and postgres refuse to run as root.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(prefix + list(args), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.directory / "postgres.log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def throwaway_postgres():
    directory = Path(tempfile.mkdtemp(prefix="ostiary-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = ThrowawayPostgres(directory, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(directory, ignore_errors=True)
