"""A stand-in for GitHub (Enterprise Server), which cannot run here.

GitHub has no OpenID Connect for people: Ostiary signs in through its OAuth 2
authorization code flow and reads its REST user API. This server answers
exactly the four requests Ostiary makes, in the shapes GitHub documents
(docs.github.com: "Authorizing OAuth apps", "Get the authenticated user",
"List email addresses for the authenticated user", "List teams for the
authenticated user"), and checks what GitHub checks: the client secret, the
redirect URI, PKCE S256, single-use codes and the bearer token. Accounts
are given by the test; the login form takes any password."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.server import free_port
from tests.support.tls import TestTLS


class GitHubStandIn:
    def __init__(self, tls: TestTLS, client_id: str, client_secret: str, accounts: dict[str, dict]):
        self.tls, self.client_id, self.client_secret, self.accounts = tls, client_id, client_secret, accounts
        self.port = free_port()
        self.codes: dict[str, dict] = {}  # code -> what it was issued for
        self.tokens: dict[str, str] = {}  # access token -> login
        self.pending: dict[str, dict] = {}  # an authorization request waiting for the login form
        self.refused: list[str] = []  # why requests were refused, for the tests to read
        self._server: ThreadingHTTPServer | None = None

    @property
    def web_url(self) -> str:  # the issuer Ostiary is given: a GitHub Enterprise Server's web address
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> "GitHubStandIn":
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", ctype: str = "application/json", **headers) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, value) -> None:
                self._send(status, json.dumps(value).encode())

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/login/oauth/authorize":
                    pending = secrets.token_urlsafe(8)
                    stand_in.pending[pending] = q
                    page = (f'<form method="post" action="/session?pending={html.escape(pending)}"><input name="login">'
                            f'<input name="password" type="password"></form>')
                    return self._send(200, page.encode(), "text/html")
                if url.path.startswith("/api/v3/user"):
                    token = self.headers.get("authorization", "").removeprefix("Bearer ")
                    login = stand_in.tokens.get(token)
                    if login is None:
                        stand_in.refused.append("api: bad token")
                        return self._json(401, {"message": "Bad credentials"})
                    account = stand_in.accounts[login]
                    if url.path == "/api/v3/user":
                        return self._json(200, {"id": account["id"], "login": login, "name": account.get("name")})
                    if url.path == "/api/v3/user/emails":
                        return self._json(200, account.get("emails", []))
                    if url.path == "/api/v3/user/teams":
                        return self._json(200, [{"slug": t, "organization": {"login": org}}
                                                for org, t in (x.split("/") for x in account.get("teams", []))])
                self._json(404, {"message": "Not Found"})

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("content-length") or 0)
                return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

            def do_POST(self) -> None:
                url, form = urlsplit(self.path), self._form()
                if url.path == "/session":  # the person signs in and authorizes the app
                    login = form.get("login", "")
                    form = stand_in.pending.pop(parse_qs(url.query).get("pending", [""])[0], {})
                    if form.get("client_id") != stand_in.client_id or form.get("code_challenge_method") != "S256":
                        stand_in.refused.append("authorize: client or PKCE method")
                        return self._send(400, b"bad request", "text/plain")
                    code = secrets.token_urlsafe(16)
                    stand_in.codes[code] = {"login": login, "challenge": form.get("code_challenge", ""),
                                            "redirect_uri": form.get("redirect_uri", "")}
                    target = f'{form["redirect_uri"]}?{urlencode({"code": code, "state": form.get("state", "")})}'
                    return self._send(302, b"", "text/plain", location=target)
                if url.path == "/login/oauth/access_token":
                    issued = stand_in.codes.pop(form.get("code", ""), None)  # single use
                    verifier = form.get("code_verifier", "")
                    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
                    secret = form.get("client_secret")
                    if secret is None and self.headers.get("authorization", "").startswith("Basic "):
                        pair = base64.b64decode(self.headers["authorization"][6:]).decode()
                        form.setdefault("client_id", pair.split(":", 1)[0])
                        secret = pair.split(":", 1)[1]
                    why = ("unknown or used code" if issued is None else
                           "client" if (form.get("client_id"), secret) != (stand_in.client_id, stand_in.client_secret)
                           else "redirect_uri" if form.get("redirect_uri") != issued["redirect_uri"]
                           else "PKCE verifier" if challenge.decode() != issued["challenge"] else "")
                    if why:
                        stand_in.refused.append(f"token: {why}")
                        # GitHub answers 200 with an error object here, named as GitHub names it.
                        error = {"client": "incorrect_client_credentials",
                                 "redirect_uri": "redirect_uri_mismatch"}.get(why, "bad_verification_code")
                        return self._json(200, {"error": error, "error_description": why})
                    token = "gho_" + secrets.token_urlsafe(24)
                    stand_in.tokens[token] = issued["login"]
                    return self._json(200, {"access_token": token, "token_type": "bearer", "scope": "read:user"})
                self._json(404, {"message": "Not Found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert_chain, self.tls.private_key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
