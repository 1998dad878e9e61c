"""A real OpenID provider for the tests: npm `oidc-provider` (panva's
certified implementation) under Node, on a free loopback port over HTTPS
with the test CA, with the clients, accounts and signing key given here.

Its /__test/ controls (tests/node/oidc-provider-server.mjs) exist only in
this test process: they make the next token response carry an ID token no
real provider would issue, or change an account's claims upstream."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
from joserfc.jwk import RSAKey

from tests.support.server import free_port
from tests.support.tls import TestTLS

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
SCRIPT = NODE_DIR / "oidc-provider-server.mjs"
CLIENT_SECRET = "a-client-secret-for-tests-only-0123456789"


class OidcProvider:
    def __init__(self, host: str, tls: TestTLS, workdir: Path, *, redirect_uris: list[str],
                 accounts: dict[str, dict], client_id: str = "ostiary"):
        self.host = host
        self.port = free_port()
        self.tls = tls
        self.workdir = workdir
        self.client_id = client_id
        self.accounts = accounts
        self.redirect_uris = redirect_uris
        self.key = RSAKey.generate_key(2048, parameters={"kid": f"key-{self.port}", "use": "sig", "alg": "RS256"})
        self.proc: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> "OidcProvider":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "issuer": self.issuer, "port": self.port, "host": "127.0.0.1",
            "cert": str(self.tls.cert_chain), "key": str(self.tls.private_key),
            "jwks": {"keys": [self.key.as_dict(private=True)]},
            "clients": [{"client_id": self.client_id, "client_secret": CLIENT_SECRET,
                         "redirect_uris": self.redirect_uris, "grant_types": ["authorization_code"],
                         "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic"}],
            "accounts": self.accounts,
        }
        path = self.workdir / "config.json"
        path.write_text(json.dumps(config))
        self.log = open(self.workdir / "provider.log", "ab")
        self.proc = subprocess.Popen(["node", str(SCRIPT), str(path)], cwd=NODE_DIR, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {(self.workdir / 'provider.log').read_text()}")
            try:
                if self.client().get("/.well-known/openid-configuration").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("oidc-provider did not answer within 30 s")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.issuer, verify=self.tls.ssl_context(), timeout=10,
                            transport=httpx.HTTPTransport(verify=self.tls.ssl_context(), local_address="127.0.0.1"))

    def rotate_key(self) -> None:
        """The provider signs with a new key from now on (restarted on the same port with it)."""
        self.stop()
        self.key = RSAKey.generate_key(2048, parameters={"kid": f"key-{time.time_ns()}", "use": "sig", "alg": "RS256"})
        self.start()

    def mangle_next_token(self, mode: str) -> None:
        """TEST-ONLY: the next token response carries a forged ID token (or fails), see the module doc."""
        with self.client() as c:
            assert c.post("/__test/mangle", json={"mode": mode}).status_code == 200

    def set_account(self, login: str, **claims) -> None:
        """TEST-ONLY: change an account's claims at the provider (a renamed email, changed groups)."""
        with self.client() as c:
            assert c.post("/__test/account", json={"login": login, "claims": claims}).status_code == 200

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self) -> "OidcProvider":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
