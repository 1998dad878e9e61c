"""Structured logs from a real two-worker `ostiary serve` (JSON format):
sign-ins succeeded, failed and throttled with tenant, login, client address
and method; the request id a trusted proxy sends, or a new one, in the line
and in the response; audit entries, snapshot loads and the parent's single
"ready"; and allowed checks counted but never logged."""

from __future__ import annotations

import json
import logging

import pytest

from ostiary.services.rules import groups, tenants
from ostiary.services.base.actor import Actor
from ostiary.store import open_store
from ostiary.observability.logs import JsonFormatter
from tests.operations.conftest import APP_HOST, PASSWORD, TENANT_HOST, check, sign_in, start, wait_for
from tests.support.server import loopback_client


@pytest.fixture(scope="module")
def running(installation):
    # The test client is the trusted proxy: loopback sends X-Forwarded-For and X-Request-Id.
    r = start(installation, "json", OSTIARY_LOG_FORMAT="json", OSTIARY_TRUSTED_PROXIES="127.0.0.1/32")
    yield r
    r.server.stop()


def _one(running, **match) -> dict:
    def found():
        hits = [e for e in running.events() if all(e.get(k) == v for k, v in match.items())]
        return hits[-1] if hits else None
    return wait_for(found, timeout=5)


def test_a_failed_sign_in_is_one_json_line_naming_tenant_login_client_and_method(running):
    r = sign_in(running, "bob@acme.test", "not the password", headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 401
    e = _one(running, event="signin.failed", client="203.0.113.7")
    assert (e["tenant"], e["login"], e["method"], e["level"]) == ("acme", "bob@acme.test", "password", "warning")
    assert e["request_id"] == r.headers["x-request-id"]  # the line is found by the id the response names


def test_the_trusted_proxys_request_id_is_kept_and_returned(running):
    r = sign_in(running, "bob@acme.test", "still not it", headers={"X-Request-Id": "proxy-id-4711",
                                                                     "X-Forwarded-For": "203.0.113.8"})
    assert r.headers["x-request-id"] == "proxy-id-4711"
    assert _one(running, event="signin.failed", client="203.0.113.8")["request_id"] == "proxy-id-4711"


def test_a_malformed_request_id_is_replaced(running):
    with loopback_client() as c:
        r = c.get(running.url(TENANT_HOST, "/sign-in"), headers={"X-Request-Id": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces" and len(r.headers["x-request-id"]) == 16


def test_a_successful_sign_in_is_logged(running):
    r = sign_in(running, "bob@acme.test", PASSWORD, headers={"X-Forwarded-For": "198.51.100.20"})
    assert r.status_code == 303
    e = _one(running, event="signin.succeeded", client="198.51.100.20")
    assert (e["tenant"], e["login"], e["method"]) == ("acme", "bob@acme.test", "password")


def test_throttled_sign_ins_are_logged_as_such(running):
    statuses = []
    for _ in range(12):
        statuses.append(sign_in(running, "nobody@acme.test", "wrong", headers={"X-Forwarded-For": "192.0.2.50"})
                        .status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    e = _one(running, event="signin.throttled", client="192.0.2.50")
    assert e["login"] == "nobody@acme.test" and e["retry_after"] > 0


def test_audit_entries_are_logged_once_committed(running, installation):
    # The server logs the audit entries it writes; this process logs its own the same way.
    store = open_store(f"sqlite:///{installation / 'ostiary.db'}")
    try:
        acme = tenants.tenant_by_slug(store, "acme").id
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append
        logger = logging.getLogger("ostiary.events")
        logger.addHandler(handler)
        old = logger.level
        logger.setLevel(logging.INFO)
        try:
            groups.add_group(store, acme, Actor("admin@acme.test", "192.0.2.9"), "auditors")
            with pytest.raises(Exception):
                groups.add_group(store, acme, Actor("admin@acme.test", "192.0.2.9"), "auditors")  # refused: no line
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old)
        lines = [json.loads(JsonFormatter().format(r)) for r in records]
        added = [e for e in lines if e.get("event") == "audit" and e.get("action") == "group.add"]
        assert len(added) == 1, lines
        assert (added[0]["actor"], added[0]["client"], added[0]["tenant_id"]) == ("admin@acme.test", "192.0.2.9", acme)
    finally:
        store.dispose()


def test_each_worker_logs_its_snapshot_load_and_serve_logs_ready_once(running):
    loads = [e for e in running.events() if e.get("event") == "snapshot.loaded"]
    assert len(loads) >= 2 and all(e["change_id"] > 0 for e in loads)
    ready = [e for e in running.events() if e.get("event") == "ready"]
    assert len(ready) == 1 and ready[0]["workers"] == 2


def test_allowed_checks_are_counted_not_logged(running):
    before = len(running.lines())
    for _ in range(20):
        assert check(running, "/health").status_code == 200  # a public path: allowed without a session
    assert check(running, "/private", host="unknown.acme-corp.test").status_code in (401, 403)
    new = running.lines()[before:]
    assert not [line for line in new if "check" in line and APP_HOST in line], new


def test_every_line_is_json(running):
    bad = [line for line in running.lines() if line.strip() and not line.startswith("{")]
    assert not bad, bad[:5]
