"""Issue 13.10: two instances on one PostgreSQL whose clocks differ.

The second instance runs under libfaketime (Debian `faketime`, preloaded
into its whole process tree), so its clock really is ahead — not a setting
of Ostiary's. The handshake's /authorize runs on the first instance and its
/callback on the second. With a 10 s handshake token (the ordinary 60 s hides
a 20 s skew), 20 s of skew made every sign-in end in "sign-in link expired";
within the 30 s leeway it now signs in. Skew beyond the leeway is reported by
/readyz (degraded, with the offset) and `ostiary doctor`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.scaleout.deployment import APP_HOST, TENANT_HOST, deployment, routed_client
from tests.support.database import create_pg_database, drop_pg_database, pg_url
from ostiary.store import open_store

pytestmark = pytest.mark.slow

FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def clock_ahead_by(seconds: int) -> dict[str, str]:
    assert FAKETIME_LIBRARY.exists(), "install Debian's faketime (./scripts/test does)"
    return {"LD_PRELOAD": str(FAKETIME_LIBRARY), "FAKETIME": f"+{seconds}s", "FAKETIME_DONT_RESET": "1"}


@pytest.fixture(scope="module", params=[20, 45], ids=["skew_20s", "skew_45s"])
def skewed(request, tmp_path_factory):
    name = create_pg_database()
    store = open_store(pg_url(name))
    store.migrate()
    short_token = {"OSTIARY_HANDSHAKE_TOKEN_TTL": "10"}
    try:
        with deployment(tmp_path_factory.mktemp("clock-skew"), pg_url(name), store, with_nginx=False,
                        instance_env=(short_token, {**short_token, **clock_ahead_by(request.param)})) as d:
            yield d, request.param
    finally:
        store.dispose()
        drop_pg_database(name)


class SplitTransport(httpx.HTTPTransport):
    """The tenant host (/authorize, sign-in) on one instance, every other host on the other."""

    def __init__(self, tenant_port: int, other_port: int, **kwargs):
        super().__init__(**kwargs)
        self.ports = (tenant_port, other_port)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        port = self.ports[0] if request.url.host == TENANT_HOST else self.ports[1]
        sent = httpx.Request(request.method, request.url.copy_with(host="127.0.0.1", port=port),
                             headers=request.headers, stream=request.stream,
                             extensions={**request.extensions, "sni_hostname": request.url.host})
        return super().handle_request(sent)


def split_handshake(d, login: str):
    import ssl

    v = d.visitor(login)
    a, b = d.instance_ports
    context = ssl.create_default_context(cafile=str(d.ca_cert))
    for attr in ("browser", "proxy"):
        getattr(v, attr).close()
        setattr(v, attr, httpx.Client(transport=SplitTransport(a, b, verify=context), follow_redirects=False,
                                      timeout=10))
    return v.open(d.app_url("/"))


def test_a_handshake_across_instances_signs_in_within_the_leeway_and_not_beyond(skewed):
    d, skew = skewed
    visit = split_handshake(d, "alice@acme.test")
    steps = [(s.url, s.status) for s in visit.steps]
    if skew <= 30:
        assert visit.reached_app, steps
    else:  # 45 s: the 10 s handshake token is past its life even with the leeway
        assert not visit.reached_app, steps
        assert "/forward-auth/callback" in visit.steps[-1].url and visit.steps[-1].status >= 400, steps
        assert "expired" in visit.steps[-1].text, visit.steps[-1].text[:500]


def readiness(d, port: int) -> dict:
    with routed_client(d.ca_cert, lambda: port) as client:
        return client.get(f"https://{TENANT_HOST}:{port}/readyz", headers={"Connection": "close"}).json()


def test_readiness_reports_the_skew_of_each_instance(skewed):
    d, skew = skewed
    a, b = d.instance_ports
    here, ahead = readiness(d, a), readiness(d, b)
    assert abs(here["clock_offset_seconds"]) < 5 and here["status"] == "ready", here
    assert abs(ahead["clock_offset_seconds"] - skew) < 5, ahead
    assert ahead["status"] == ("degraded" if skew > ahead["clock_leeway_seconds"] else "ready"), ahead


def test_doctor_warns_about_a_clock_beyond_the_leeway(skewed, tmp_path):
    d, skew = skewed
    env = {**os.environ, **clock_ahead_by(skew), "OSTIARY_DATABASE_URL": d.store.url,
           "OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_DNS_TIMEOUT": "1", "OSTIARY_DNS_RESOLVERS": "127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "ostiary", "doctor"], env=env, capture_output=True, text=True,
                          timeout=120)
    [line] = [line for line in done.stdout.splitlines() if "the database's" in line]
    if skew > 30:
        assert line.startswith("! clock: this instance's clock is") and "ahead of the database's" in line, line
        assert "more than the 30 s leeway" in line and "fix: synchronise" in line
    else:
        assert line.startswith("✓ clock: ") and "within the 30 s leeway" in line, line
