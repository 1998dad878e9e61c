"""A tenant with protected domains in a real store, a dnsmasq of the test's own, and a fake NTP server."""

from __future__ import annotations

import time

import pytest

from tests.support.ntpserver import NtpServer
from click.testing import CliRunner

from ostiary.cli import main
from ostiary.services.rules import apps as apps_service
from ostiary.services.rules import domains as domains_service
from ostiary.services.rules import tenants as tenants_service
from ostiary.services.base.actor import CLI_ACTOR
from tests.support.dnsserver import Dnsmasq, SilentDnsServer, SlowDnsServer, free_udp_port

PORTAL_ADDRESS = "127.0.0.10"
ELSEWHERE_ADDRESS = "127.0.0.99"


def challenge(domain_row) -> dict[str, list[str]]:
    """The TXT record that verifies `domain_row`, as dnsmasq takes it."""
    name, value = domains_service.txt_record(domain_row)
    return {name: [value]}


@pytest.fixture
def tenant_id(store) -> int:
    return tenants_service.add_tenant(store, "acme", CLI_ACTOR).id


class QuickDnsmasq(Dnsmasq):
    """Dnsmasq, waiting for it with short probes: these tests restart it often with new records."""

    def _wait_until_answering(self, deadline: float) -> bool:
        import dns.exception
        import dns.message
        import dns.query

        probe = dns.message.make_query("version.bind", "TXT", "CH")
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                dns.query.udp(probe, self.host, port=self.port, timeout=0.02)
                return True
            except (dns.exception.Timeout, OSError):
                time.sleep(0.005)
        return False


@pytest.fixture
def dns():
    """A dnsmasq answering only for .test on a port chosen now; `dns.restart(txt=..., hosts=...)`
    starts it (again) with the test's records."""
    server = QuickDnsmasq(port=free_udp_port())
    yield server
    server.close()


@pytest.fixture
def add_domain(store, tenant_id):
    def add(name: str, portal_host: str):
        return domains_service.add_domain(store, tenant_id, CLI_ACTOR, name, portal_host)

    return add


@pytest.fixture
def add_app(store, tenant_id):
    def add(name: str, url: str, allow_http: bool = False):
        return apps_service.add_app(store, tenant_id, CLI_ACTOR, name=name, url=url, all_users=True,
                                    allow_http=allow_http)

    return add


@pytest.fixture
def doctor(db_url, dns, tmp_path):
    """Runs `ostiary doctor` through the real CLI; settings as environment variables."""
    runner = CliRunner()

    def run(*args: str, **settings: str):
        env = {
            "OSTIARY_DATABASE_URL": db_url,
            "OSTIARY_DATA_DIR": str(tmp_path),
            "OSTIARY_DNS_RESOLVERS": dns.resolvers_env,
            "OSTIARY_DNS_TIMEOUT": "2",
            "OSTIARY_PUBLIC_ADDRESSES": PORTAL_ADDRESS,
            "OSTIARY_NTP_SERVER": "",
            "OSTIARY_DEV": "false",
        }
        env.update({f"OSTIARY_{k.upper()}": v for k, v in settings.items()})
        return runner.invoke(main, ["doctor", *args], env=env, catch_exceptions=False)

    return run


@pytest.fixture
def silent_dns():
    with SilentDnsServer() as server:
        yield server


@pytest.fixture
def slow_dns():
    with SlowDnsServer(6.0) as server:
        yield server


@pytest.fixture
def ntp_server_factory():
    servers: list[NtpServer] = []

    def start(skew: float = 0.0) -> NtpServer:
        servers.append(NtpServer(skew))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
