"""LibreChat-shaped refresh tokens minted by Node's real `jsonwebtoken`
(tests/node), exactly as LibreChat's generateRefreshToken does."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

MINT_SCRIPT = Path(__file__).parent.parent / "node" / "mint-librechat-token.js"


def mint(payload: dict, secret: str, expires_in: str | int = "7d", algorithm: str | None = None) -> str:
    if not (MINT_SCRIPT.parent / "node_modules" / "jsonwebtoken").exists():
        raise RuntimeError("run `npm ci` in tests/node (the test script does this)")
    request = {"secret": secret, "payload": payload, "expiresIn": expires_in}
    if algorithm:
        request["algorithm"] = algorithm
    done = subprocess.run(["node", str(MINT_SCRIPT), json.dumps(request)], capture_output=True, text=True,
                          timeout=30, check=True)
    return done.stdout.strip()


def librechat_ids() -> dict[str, str]:
    """A user id and session id shaped like LibreChat's (24 hex digits)."""
    return {"id": secrets.token_hex(12), "sessionId": secrets.token_hex(12)}
