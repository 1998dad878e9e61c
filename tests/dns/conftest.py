"""Real DNS servers on loopback for the DNS tests: one dnsmasq for the session, plus misbehaving servers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.ntpserver import NtpServer

from tests.dns.dns_cases import GOOD_DOMAINS, SLOW_DELAY, TOKENS  # noqa: F401

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # so `tests.support` imports however pytest is started
    sys.path.insert(0, _ROOT)

from tests.support.dnsserver import Dnsmasq, SilentDnsServer, SlowDnsServer  # noqa: E402


RECORDS = {
    "_ostiary-challenge.acme-corp.test": ["ostiary-domain-verification=tok-acme"],
    # several TXT records on one name; only one is ours
    "_ostiary-challenge.homelab.test": [
        "v=spf1 -all",
        "ostiary-domain-verification=an-older-token",
        "ostiary-domain-verification=tok-home",
    ],
    # one record in several character-strings, as long values arrive
    "_ostiary-challenge.split.test": [("ostiary-domain-", "verification=tok-split-", "0123456789")],
    "_ostiary-challenge.wrong.test": ["ostiary-domain-verification=someone-elses-token"],
}

HOSTS = {
    "portal.acme-corp.test": ["127.0.0.10", "fd00::10"],
    "app.acme-corp.test": ["127.0.0.11"],
    "stray.acme-corp.test": ["127.0.0.10", "127.0.0.99"],
    "elsewhere.acme-corp.test": ["127.0.0.99"],
    # the challenge name exists (it has an A record) but holds no TXT record
    "_ostiary-challenge.absent.test": ["127.0.0.12"],
}



@pytest.fixture(scope="session")
def slow_dns():
    with SlowDnsServer(
        SLOW_DELAY, txt={"_ostiary-challenge.slow.test": ["ostiary-domain-verification=tok-slow"]}
    ) as server:
        yield server


@pytest.fixture(scope="session")
def dns_server(slow_dns):
    """dnsmasq with the records above; queries for slow.test are forwarded to the slow server."""
    records = dict(RECORDS)
    for domain in GOOD_DOMAINS:
        records[f"_ostiary-challenge.{domain}"] = [f"ostiary-domain-verification=tok-{domain}"]
    with Dnsmasq(txt=records, hosts=HOSTS, forward={"slow.test": slow_dns.address}) as server:
        yield server


@pytest.fixture(scope="session")
def resolvers(dns_server):
    return dns_server.resolvers


@pytest.fixture(scope="session")
def silent_dns():
    with SilentDnsServer() as server:
        yield server


@pytest.fixture
def own_dns():
    """A dnsmasq of the test's own, to restart with changed records."""
    with Dnsmasq(txt={"_ostiary-challenge.moving.test": ["ostiary-domain-verification=tok-moving"]}) as server:
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
