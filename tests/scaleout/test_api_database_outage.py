"""The JSON API while PostgreSQL is away (a throwaway cluster of this test's
own): stopped, and frozen with SIGSTOP (it accepts connections and never
answers). Every call answers 503 in the API's documented error shape with a
Retry-After, never a 500; once the database is back the API answers again."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ostiary.services.rules import api_tokens
from ostiary.services.base.actor import Actor
from ostiary.store import open_store
from tests.scaleout.deployment import TENANT_HOST, deployment, routed_client, throwaway_postgres

CALLS = [("GET", "/users", None), ("GET", "/groups/staff", None), ("POST", "/groups", {"name": "during-outage"}),
         ("PATCH", "/users/alice@acme.test", {"active": False})]


def _cluster_pids(data: Path) -> list[int]:
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry.name))
    return [postmaster, *children]


@contextmanager
def frozen(pg):
    """Every process of the cluster stopped with SIGSTOP: connections are
    accepted by the kernel and no query is ever answered."""
    pids = _cluster_pids(pg.data)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def _assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:500])
    body = r.json()
    assert body["error"] == "unavailable" and "database" in body["message"] and body["problems"] == []
    assert int(r.headers["retry-after"]) > 0


@pytest.mark.slow
@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_the_api_answers_503_in_its_error_shape_while_the_database_is_away(tmp_path, outage):
    with throwaway_postgres() as pg:
        pg.create_database("ostiary")
        store = open_store(pg.url("ostiary"))
        store.migrate()
        try:
            with deployment(tmp_path, pg.url("ostiary"), store, instances=1, workers=1, with_nginx=False) as d:
                token = api_tokens.create_token(store, d.tenant_id, Actor("setup"), "ops", "write").token
                port = d.instance_ports[0]
                with routed_client(d.ca_cert, lambda: port) as client:
                    client.headers["authorization"] = f"Bearer {token}"
                    client.timeout = 60
                    base = f"https://{TENANT_HOST}:{port}/api/v1"
                    assert client.get(f"{base}/users").status_code == 200  # the pool holds a live connection
                    if outage == "stopped":
                        pg.stop("fast")
                        answers = [client.request(m, base + p, json=b) for m, p, b in CALLS]
                        pg.start()
                    else:
                        with frozen(pg):
                            answers = [client.request(m, base + p, json=b) for m, p, b in CALLS]
                    for r in answers:
                        _assert_unavailable(r)
                    assert client.get(f"{base}/users").status_code == 200
                    assert client.get(f"{base}/groups/during-outage").status_code == 404  # nothing half-written
        finally:
            store.dispose()
