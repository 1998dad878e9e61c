"""A wrong OSTIARY_DATABASE_URL gets one line saying what is wrong (the
server is unreachable, the credentials are refused, the database does not
exist) and how to fix it, never a traceback, and a non-zero exit, from
`ostiary serve` and from every other command. The password never shows."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.database import PG_ADMIN_DSN
from tests.support.server import free_port

SERVER = PG_ADMIN_DSN.rsplit("/", 1)[0]  # postgresql://user@host:port
HOST_PORT = SERVER.rsplit("@", 1)[-1]


def _unused_port_url() -> str:
    return f"postgresql://ostiary:s3cret-pw@127.0.0.1:{free_port()}/ostiary"


FAULTS = {
    # Nothing listens there (a port just freed): the server is down or the address is wrong.
    "unreachable": (_unused_port_url, ["cannot reach PostgreSQL", "OSTIARY_DATABASE_URL"]),
    # This server trusts loopback, so an unknown role is how it refuses credentials here.
    "credentials": (lambda: f"postgresql://no_such_role_ostiary:s3cret-pw@{HOST_PORT}/postgres",
                    ["refused", "no_such_role_ostiary", "user name and password"]),
    "no database": (lambda: f"{SERVER}/no_such_database_ostiary", ["does not exist", "no_such_database_ostiary", "createdb"]),
}
COMMANDS = [["serve", "--port", "PORT"], ["serve", "--no-migrate", "--port", "PORT"], ["migrate"],
            ["init", "--base-domain", "id.example.test", "--tenant", "acme", "--admin-email", "a@acme.test"],
            ["user", "list"], ["keys", "rotate"], ["doctor"]]


def _with_password(url: str) -> str:
    """The same URL with a password, so the test can check it is never printed."""
    if "s3cret-pw" in url:
        return url
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:s3cret-pw@{host}"


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_a_wrong_database_url_gets_one_line_with_the_fix(fault, args, tmp_path):
    make_url, expected = FAULTS[fault]
    url = _with_password(make_url())
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update(OSTIARY_DATABASE_URL=url, OSTIARY_DATA_DIR=str(tmp_path))
    args = [str(free_port()) if a == "PORT" else a for a in args]
    done = subprocess.run([sys.executable, "-m", "ostiary", *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for part in expected:
        assert part in lines[0], lines[0]
    assert "s3cret-pw" not in done.stderr + done.stdout
