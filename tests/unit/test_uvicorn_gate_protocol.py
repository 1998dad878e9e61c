"""`ostiary serve --server uvicorn` answers a plain check while uvicorn parses
it (gate/uvicorn_protocol.py). Two real uvicorn servers run one Ostiary
application in this process, one with that protocol and one with uvicorn's own
httptools protocol, and the same raw requests go to both over real sockets:
every answer must be the same, byte for byte but for the Date header, and so
must what happens to the connection (kept, closed, the next request on it).
A counting subclass shows which requests took uvicorn's ASGI task path."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn

from ostiary.app import create_app
from ostiary.config import Settings
from ostiary.gate import uvicorn_protocol
from ostiary.gate.uvicorn_protocol import GateProtocol
from ostiary.serving import UVICORN_OPTIONS
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules import apps, domains, groups, keys, sessions, tenants, users
from ostiary.tokens import sign
from tests.support.database import copy_sqlite

PORTAL = "auth.acme-corp.test"


class Counting(GateProtocol):
    """GateProtocol counting the requests it leaves to uvicorn's ASGI task."""

    tasks = 0

    def _start_asgi_task(self, cycle, app) -> None:
        Counting.tasks += 1
        super()._start_asgi_task(cycle, app)


class Served:
    """uvicorn on a socket of its own, in a thread, serving `app` with `http`."""

    def __init__(self, app, http):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        options = {**UVICORN_OPTIONS, "http": http}
        self.server = uvicorn.Server(uvicorn.Config(app, lifespan="off", loop="uvloop", log_level="warning",
                                                    **options))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def world(sqlite_template, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uvicorn-gate")
    url = copy_sqlite(sqlite_template, tmp)
    from ostiary.store import open_store

    store = open_store(url)
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery",
                              CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    domains.add_domain(store, tid, CLI_ACTOR, "acme-corp.test", PORTAL)
    domains.skip_verification(store, tid, CLI_ACTOR, "acme-corp.test", "unit test without DNS")
    groups.add_group(store, tid, CLI_ACTOR, "staff")
    groups.add_group(store, tid, CLI_ACTOR, "admins")
    alice = users.add_user(store, tid, CLI_ACTOR, email="alice@acme.test", display_name="Alice Ängström")
    groups.add_member(store, tid, CLI_ACTOR, "staff", "alice@acme.test")
    apps.add_app(store, tid, CLI_ACTOR, name="grafana", url="https://grafana.acme-corp.test", groups_granted=["staff"])
    apps.add_app(store, tid, CLI_ACTOR, name="console", url="https://console.acme-corp.test",
                 groups_granted=["admins"])
    keys.ensure_signing_key(store)
    app = create_app(Settings(database_url=url, data_dir=tmp))
    app.holder.load()
    snap = app.holder.snapshot
    session = sessions.create_session(store, tid, alice.id)
    now = time.time()
    cookie = sign("fa", {"tn": tid, "d": snap.portal_hosts[PORTAL].id, "s": session.id, "u": alice.id, "mf": False,
                         "exp": now + 3600}, snap.signing_key, now=now)
    fast, plain = Served(app, Counting), Served(app, "httptools")
    yield {"fast": fast.port, "plain": plain.port, "cookie": cookie}
    fast.stop()
    plain.stop()
    app.store.dispose()
    store.dispose()


def check(host: str, *, cookie: str | None = None, path: str = "/forward-auth/check", method: str = "GET",
          version: str = "1.1", extra: str = "", html: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/{version}", f"Host: {PORTAL}", "X-Forwarded-Proto: https",
             f"X-Forwarded-Host: {host}", "X-Forwarded-Uri: /dashboards?x=1", "X-Forwarded-Method: GET"]
    if html:
        lines += ["Accept: text/html", "Sec-Fetch-Mode: navigate"]
    if cookie:
        lines.append(f"Cookie: theme=dark; _ostiary_fa={cookie}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def exchange(port: int, data: bytes, answers: int = 1, closing: bool = False) -> tuple[list[bytes], bool]:
    """Send `data`, read `answers` responses (framed by Content-Length), and say
    whether the server then closed the connection: waiting up to 10 s for it when
    `closing` (a busy machine may be slow to deliver the close), else half a second
    (the servers keep an idle connection 125 s, so a close seen then is real)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        buffer, out = b"", []
        while len(out) < answers:
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {len(out)} answer(s): {buffer!r}"
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = 0 if data.startswith(b"HEAD") else next(
                (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
                0)
            while len(rest) < length:
                chunk = sock.recv(65536)
                assert chunk, "connection closed inside a body"
                rest += chunk
            out.append(_without_date(head) + b"\r\n\r\n" + rest[:length])
            buffer = rest[length:]
        assert buffer == b"", f"more than {answers} answer(s): {buffer!r}"
        sock.settimeout(10 if closing else 0.5)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
    return out, closed


def _without_date(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    status, headers = lines[0], sorted(line for line in lines[1:] if not line.lower().startswith(b"date:"))
    assert len(headers) == len(lines) - 2, "one Date header, as uvicorn sends"
    return b"\r\n".join([status, *headers])


CASES = {
    "allowed": (lambda w: check("grafana.acme-corp.test", cookie=w["cookie"]), 1, b"HTTP/1.1 200", True),
    "the refusal page, asked by HEAD": (lambda w: check("console.acme-corp.test", cookie=w["cookie"], method="HEAD"),
                                        1, b"HTTP/1.1 403", True),
    "not signed in, nginx's 401": (lambda w: check("grafana.acme-corp.test", path="/forward-auth/check?not-signed-in=401"),
                                   1, b"HTTP/1.1 401", True),
    "not signed in, a redirect": (lambda w: check("grafana.acme-corp.test"), 1, b"HTTP/1.1 302", True),
    "forbidden, the refusal page": (lambda w: check("console.acme-corp.test", cookie=w["cookie"]), 1, b"HTTP/1.1 403",
                                    True),
    "forbidden, not a page": (lambda w: check("console.acme-corp.test", cookie=w["cookie"], html=False), 1,
                              b"HTTP/1.1 403", True),
    "no app at that host": (lambda w: check("nothing.acme-corp.test", cookie=w["cookie"]), 1, None, True),
    "HTTP/1.0 closes": (lambda w: check("grafana.acme-corp.test", cookie=w["cookie"], version="1.0"), 1,
                        b"HTTP/1.1 200", False),
    "Connection: close closes": (lambda w: check("grafana.acme-corp.test", cookie=w["cookie"],
                                                 extra="Connection: close\r\n"), 1, b"HTTP/1.1 200", False),
    "a body is skipped, the next request answered": (
        lambda w: check("grafana.acme-corp.test", cookie=w["cookie"], method="POST",
                        extra="Content-Length: 5\r\n")[:-2] + b"\r\nhello" + check("console.acme-corp.test",
                                                                                   cookie=w["cookie"]),
        2, b"HTTP/1.1 200", True),
    "two pipelined checks": (lambda w: check("grafana.acme-corp.test", cookie=w["cookie"])
                             + check("grafana.acme-corp.test"), 2, b"HTTP/1.1 200", True),
    "an escaped path": (lambda w: check("grafana.acme-corp.test", cookie=w["cookie"], path="/forward-auth/%63heck"), 1,
                        b"HTTP/1.1 200", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_parser_answers_as_uvicorns_asgi_path_does(world, case):
    make, answers, status, kept = CASES[case]
    data = make(world)
    fast, fast_closed = exchange(world["fast"], data, answers, closing=not kept)
    plain, plain_closed = exchange(world["plain"], data, answers, closing=not kept)
    assert fast == plain
    assert (fast_closed, plain_closed) == (not kept, not kept)
    if status is not None:
        assert fast[0].startswith(status), fast[0][:200]


def test_identity_headers_reach_the_proxy_from_the_parser(world):
    (answer,), _ = exchange(world["fast"], check("grafana.acme-corp.test", cookie=world["cookie"]))
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"x-forwarded-email: alice@acme.test\r\n" in answer
    assert "x-forwarded-display-name: Alice Ängström\r\n".encode() in answer
    assert b"content-length: 0\r\n" in answer and answer.endswith(b"\r\n\r\n")


def test_only_what_needs_uvicorns_path_takes_it(world):
    """A plain check (allowed or refused) never starts uvicorn's task; an escaped
    path, a pipelined second request and any other endpoint do."""
    before = Counting.tasks
    exchange(world["fast"], check("grafana.acme-corp.test", cookie=world["cookie"]))
    exchange(world["fast"], check("grafana.acme-corp.test"))
    exchange(world["fast"], check("console.acme-corp.test", cookie=world["cookie"]))
    assert Counting.tasks == before
    exchange(world["fast"], check("grafana.acme-corp.test", path="/forward-auth/%63heck"))
    assert Counting.tasks == before + 1
    exchange(world["fast"], b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert Counting.tasks == before + 2


def test_a_failure_in_the_parser_leaves_every_check_to_uvicorns_path(world, monkeypatch):
    """A uvicorn whose protocol changed shape (here: a missing attribute) must not cost
    an answer: the worker falls back, once and for good, and answers as before."""
    monkeypatch.setattr(GateProtocol, "off", False)
    monkeypatch.setattr(uvicorn_protocol, "_encoded_headers", lambda start: start["no such key"])
    before = Counting.tasks
    (answer,), closed = exchange(world["fast"], check("grafana.acme-corp.test", cookie=world["cookie"]))
    assert answer.startswith(b"HTTP/1.1 200") and not closed
    assert GateProtocol.off is True and Counting.tasks == before + 1
    exchange(world["fast"], check("grafana.acme-corp.test", cookie=world["cookie"]))
    assert Counting.tasks == before + 2
