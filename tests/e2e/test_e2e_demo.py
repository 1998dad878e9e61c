"""`ostiary demo` as a newcomer runs it: one command, then Chromium signs in
with the printed credentials and sees the demo app showing who they are.
Every port is a free one (--port, --app-port), so the tests pass while
something else holds 8080 or 3000."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.support.browser import chromium
from tests.support.server import free_port

pytestmark = pytest.mark.slow


def _ctrl_c_as_from_a_terminal() -> None:
    """A shell starts background jobs with SIGINT ignored, and a child inherits that:
    give the demo the default disposition a terminal gives it, so Ctrl-C reaches it
    however this suite itself was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DemoRun:
    """`ostiary demo` in a subprocess; its output lines arrive on a queue."""

    def __init__(self, data_dir, port: int, app_port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ostiary", "demo", "--data-dir", str(data_dir), "--port", str(port),
             "--app-port", str(app_port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
            preexec_fn=_ctrl_c_as_from_a_terminal,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.output.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"`ostiary demo` never printed {pattern!r}:\n{''.join(self.output)}")

    def interrupt(self) -> int:
        """Ctrl-C, and the exit status."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)  # stopping three processes can be slow on a loaded machine
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    return tmp_path_factory.mktemp("demo") / "ostiary-demo-data"


def test_demo_signs_in_with_the_printed_credentials_and_shows_the_identity(demo_data, artifacts_dir):
    port, app_port = free_port(), free_port()
    run = DemoRun(demo_data, port, app_port)
    try:
        assert run.wait_for(r"DEMO ONLY: DNS verification of example\.localhost was skipped")
        url = run.wait_for(r"Open:\s+(\S+)").group(1)
        login = run.wait_for(r"Sign in:\s+(\S+)").group(1)
        password = run.wait_for(r"Password:\s+(\S+)\s+\(shown once").group(1)
        sign_out = run.wait_for(r"Sign out:\s+(\S+)").group(1)
        assert url == f"http://app.example.localhost:{port}/"
        caddyfile = (demo_data / "Caddyfile").read_text()
        assert f"--upstream http://127.0.0.1:{app_port}" in caddyfile  # the snippet, for the app's own port
        assert f"127.0.0.1:{app_port}" in caddyfile.split("`ostiary snippet", 1)[1]
        with chromium() as browser:
            context = browser.new_context()
            page = context.new_page()
            page.goto(url)
            assert page.url.startswith(f"http://demo.id.localhost:{port}/sign-in"), page.url
            page.screenshot(path=str(artifacts_dir / "demo-1-sign-in.png"), full_page=True)
            page.fill("#login", login)
            page.fill("#password", password)
            page.click("button[type=submit]")
            page.wait_for_url(url)
            text = page.inner_text("body")
            assert "Signed in as" in text and "demo" in text, text
            assert "demo@example.localhost" in text  # X-Forwarded-Email
            assert "staff" in text  # X-Forwarded-Groups
            page.screenshot(path=str(artifacts_dir / "demo-2-app-shows-identity.png"), full_page=True)

            page.click("text=Sign out")
            page.wait_for_url(sign_out)
            # A page with a button (a link alone signs no one out), then signed out.
            with page.expect_navigation():
                page.click("button:text-is('Sign out everywhere')")
            assert "signed out" in page.inner_text("body").lower()
            page.screenshot(path=str(artifacts_dir / "demo-3-signed-out.png"), full_page=True)
            page.goto(url)
            assert page.url.startswith(f"http://demo.id.localhost:{port}/sign-in"), page.url
            context.close()
    finally:
        status = run.interrupt()
    assert status == 0, "".join(run.output)
    assert run.wait_for(r"Stopped Caddy, Ostiary and the demo app")


def test_demo_runs_again_on_the_same_data_without_a_new_password(demo_data):
    port = free_port()  # another port than the first run: the app's URL follows it
    run = DemoRun(demo_data, port, free_port())
    try:
        assert run.wait_for(r"Open:\s+(\S+)").group(1) == f"http://app.example.localhost:{port}/"
        assert run.wait_for(r"Password:\s+the one printed on the first run")
    finally:
        assert run.interrupt() == 0, "".join(run.output)
