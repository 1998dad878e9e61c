"""The newcomer's path: `ostiary init` then `ostiary serve` on the embedded
SQLite default (no database URL), and the admin signs in with a real
Chromium."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.browser import chromium
from tests.support.server import OstiaryServer, free_port

PASSWORD = "a newcomer's passphrase"


def test_a_fresh_install_on_sqlite_lets_the_admin_sign_in_in_a_browser(tmp_path, artifacts_dir):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update({"OSTIARY_DEV": "1", "OSTIARY_PUBLIC_PORT": str(port)})
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    init = subprocess.run(
        [sys.executable, "-m", "ostiary", "init", "--base-domain", "localhost", "--tenant", "acme",
         "--admin-email", "admin@example.com", "--admin-password-file", "pw"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert init.returncode == 0, init.stderr
    assert f"http://acme.localhost:{port}/sign-in" in init.stdout
    assert (tmp_path / "ostiary-data" / "ostiary.db").exists()  # the embedded default
    env["OSTIARY_DATA_DIR"] = str(tmp_path / "ostiary-data")
    server = OstiaryServer(env, port, workers=1, log_path=tmp_path / "server.log").start(ready_host="acme.localhost")
    try:
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"http://acme.localhost:{port}/")
            assert page.url.endswith("/sign-in")
            page.get_by_label("Email or username").fill("admin@example.com")
            page.get_by_label("Password").fill("wrong password!")
            page.get_by_role("button", name="Sign in", exact=True).click()
            assert page.get_by_role("alert").inner_text() == "The email or password is not right."
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in", exact=True).click()
            page.wait_for_url(f"http://acme.localhost:{port}/")
            assert "Signed in as admin" in page.locator("h1").inner_text()
            page.screenshot(path=str(artifacts_dir / "newcomer-signed-in.png"))
            page.get_by_role("button", name="Sign out everywhere").click()
            assert "signed out" in page.locator("h1").inner_text().lower()
    finally:
        server.stop()
