"""Debian's Chromium driven by Playwright, with every host name mapped to
loopback. Never `playwright install`: the tests use the system's Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--ignore-certificate-errors",
    "--host-resolver-rules=MAP * 127.0.0.1",
]


@contextmanager
def chromium() -> Iterator:
    """A launched headless Chromium (a Playwright Browser)."""
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        raise RuntimeError("Debian's chromium is missing: apt-get install chromium (the test script does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
