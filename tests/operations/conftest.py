"""A real `ostiary serve` (granian, two workers, development mode over
HTTP, SQLite) with one tenant, a verified domain and an app with a public
path, for the logs, metrics and fail2ban tests. Each module starts the
server it needs with the settings it tests (log format, level, listener)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest

from ostiary.services.rules import apps, domains, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store import open_store
from tests.support.server import OstiaryServer, free_port, loopback_client

PASSWORD = "correct horse battery"
TENANT_HOST = "acme.id.example.test"
PORTAL = "auth.acme-corp.test"
APP_HOST = "grafana.acme-corp.test"


@pytest.fixture(scope="module")
def installation(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("operations")
    store = open_store(f"sqlite:///{tmp / 'ostiary.db'}")
    store.migrate()
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    acme = tenants.tenant_by_slug(store, "acme").id
    domains.add_domain(store, acme, CLI_ACTOR, "acme-corp.test", PORTAL)
    # DNS verification has its own tests (tests/dns/): record the outcome directly.
    domains.record_verification(store, acme, CLI_ACTOR, "acme-corp.test", True, "verified for the test")
    apps.add_app(store, acme, CLI_ACTOR, name="grafana", url=f"https://{APP_HOST}", all_users=True,
                 public_paths=["/health"])
    users.add_user(store, acme, CLI_ACTOR, email="bob@acme.test", display_name="Bob", password=PASSWORD)
    store.dispose()
    return tmp


@dataclass
class Running:
    server: OstiaryServer
    port: int
    metrics_port: int
    log: Path

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def events(self) -> list[dict]:
        """The JSON lines of the log (OSTIARY_LOG_FORMAT=json)."""
        out = []
        for line in self.lines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


def start(installation: Path, name: str, server: str = "uvicorn", **env: str) -> Running:
    port, metrics_port = free_port(), free_port()
    log = installation / f"{name}.log"
    settings = {"OSTIARY_DATA_DIR": str(installation), "OSTIARY_DEV": "1", "OSTIARY_PUBLIC_PORT": str(port),
                "OSTIARY_METRICS_LISTEN": f"127.0.0.1:{metrics_port}", **env}
    server = OstiaryServer(settings, port, workers=2, log_path=log, server=server).start(ready_host=TENANT_HOST)
    return Running(server, port, metrics_port, log)


def sign_in(running: Running, login: str, password: str, headers: dict | None = None) -> httpx.Response:
    """One sign-in through the form, as a browser sends it (CSRF cookie and field, Origin)."""
    with loopback_client() as browser:
        page = browser.get(running.url(TENANT_HOST, "/sign-in"), headers=headers or {})
        fields = {k: unescape(v) for k, v in re.findall(r'name="(csrf|next)" value="([^"]*)"', page.text)}
        origin = f"http://{TENANT_HOST}:{running.port}"
        return browser.post(origin + "/sign-in", data={"login": login, "password": password, **fields},
                            headers={"Origin": origin, "Sec-Fetch-Site": "same-origin", **(headers or {})})


def check(running: Running, uri: str, host: str = APP_HOST) -> httpx.Response:
    """A proxy's forward-auth subrequest, on a new connection (so the checks spread over the workers)."""
    with loopback_client() as proxy:
        return proxy.get(running.url(PORTAL, "/forward-auth/check"), headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": host, "X-Forwarded-Uri": uri,
            "X-Forwarded-Method": "GET", "Connection": "close"})


def wait_for(predicate, timeout: float = 10.0):
    """The value of `predicate()` once truthy; fails the test past `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.1)
