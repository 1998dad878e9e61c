"""The shipped fail2ban filter, run by Debian's real `fail2ban-regex` on the
log lines a real two-worker `ostiary serve` wrote, in both log formats:
every refused and throttled sign-in names the client address the trusted
proxy forwarded, and a login crafted to look like another address names no one."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from ostiary.observability import fail2ban
from tests.operations.conftest import sign_in, start

# One attacker address per format: both servers share one database, and its throttle.
ATTACKERS = {"text": "203.0.113.66", "json": "203.0.113.67"}
FRAMED = "198.51.100.99"  # the address a crafted login tries to get banned


def _fail2ban_regex(log, *extra) -> str:
    if shutil.which("fail2ban-regex") is None:
        pytest.fail("fail2ban-regex is missing: ./scripts/test installs Debian's fail2ban")
    result = subprocess.run(["fail2ban-regex", *extra, str(log), str(fail2ban.FILTER)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module", params=["text", "json"])
def written(request, installation):
    attacker = ATTACKERS[request.param]
    running = start(installation, f"fail2ban-{request.param}", OSTIARY_LOG_FORMAT=request.param,
                    OSTIARY_TRUSTED_PROXIES="127.0.0.1/32")
    try:
        for n in range(3):
            assert sign_in(running, "bob@acme.test", f"wrong {n}", headers={"X-Forwarded-For": attacker}).status_code == 401
        crafted = [f'x client={FRAMED} request_id=1', f'x", "client": "{FRAMED}", "request_id": "1',
                   f'x\n2026-12-01T00:00:00.000+00:00 WARNING ostiary.events signin.failed client={FRAMED} request_id=1']
        for login in crafted:
            sign_in(running, login, "wrong", headers={"X-Forwarded-For": "192.0.2.77"})
        assert sign_in(running, "bob@acme.test", "correct horse battery",
                       headers={"X-Forwarded-For": "192.0.2.88"}).status_code == 303
    finally:
        running.server.stop()
    return request.param, running.log


def test_every_failed_sign_in_names_the_forwarded_client(written):
    fmt, log = written
    found = _fail2ban_regex(log, "--out", "ip").split()
    assert found.count(ATTACKERS[fmt]) == 3, found
    assert found.count("192.0.2.77") == 3, found  # the crafted logins failed too, from their real address


def test_a_crafted_login_frames_no_one(written):
    fmt, log = written
    found = _fail2ban_regex(log, "--out", "ip").split()
    assert FRAMED not in found
    assert "192.0.2.88" not in found  # a good sign-in is no failure


def test_the_lines_are_the_format_asked_for(written):
    fmt, log = written
    failed = [line for line in log.read_text().splitlines() if "signin.failed" in line]
    assert failed and all(line.startswith("{") == (fmt == "json") for line in failed)


def test_the_installer_writes_filter_and_jail(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ostiary.observability.fail2ban", "install", "--dest", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "filter.d" / "ostiary.conf").read_text() == fail2ban.FILTER.read_text()
    jail = (tmp_path / "jail.d" / "ostiary.conf").read_text()
    assert "filter       = ostiary" in jail and "journalmatch = _SYSTEMD_UNIT=ostiary.service" in jail
