"""One real `ostiary serve` (granian, HTTPS, production mode) per test
module, the same world as the admin tests (tests/admin/conftest.py), and
Chromium with a virtual WebAuthn authenticator attached through the DevTools
protocol: a real browser making real passkeys, no hardware."""

from __future__ import annotations

import itertools
from contextlib import contextmanager
import re

import pytest

from ostiary.services.rules import users
from ostiary.services.base.actor import CLI_ACTOR
from tests.admin.conftest import PASSWORD, TENANT_HOST, start_world, stop_world
from tests.support.browser import chromium

__all__ = ["PASSWORD", "TENANT_HOST"]

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("signin-world")
    w = start_world(tmp, f"sqlite:///{tmp / 'ostiary.db'}")
    yield w
    stop_world(w)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def new_person(world, name: str, password: str | None = PASSWORD, **extra) -> str:
    """A fresh user of the acme tenant, so each test starts from nothing."""
    email = f"{name}{next(_numbers)}@acme.test"
    users.add_user(world.store, world.tenant_id, CLI_ACTOR, email=email, display_name=name.title(),
                   password=password, **extra)
    return email


class Visitor:
    """A browser context with its own virtual authenticator."""

    def __init__(self, browser, world, *, user_verified: bool = True, autofill: bool = False,
                 can_verify: bool = True):
        self.world = world
        self.context = browser.new_context(ignore_https_errors=True)
        if not autofill:
            # Chromium's virtual authenticator answers an autofill (conditional) request at once, as if the
            # person had picked the passkey from the list; tests of the button need a browser without it.
            self.context.add_init_script(
                "if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = "
                "async () => false;")
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.user_verified = user_verified
        self.can_verify = can_verify
        self.authenticator = self.new_authenticator()

    def new_authenticator(self, transport: str = "internal") -> str:
        """A device: the computer's own ("internal", one at most), or a security key ("usb")."""
        return self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": transport, "hasResidentKey": True, "hasUserVerification": self.can_verify,
            "isUserVerified": self.user_verified, "automaticPresenceSimulation": True}})["authenticatorId"]

    def switch_to(self, authenticator: str) -> None:
        """Only `authenticator` is plugged in from now on."""
        for other in {self.authenticator} - {authenticator}:
            self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": other})
        self.authenticator = authenticator

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator})["credentials"]

    def remove_credentials(self) -> None:
        self.cdp.send("WebAuthn.clearCredentials", {"authenticatorId": self.authenticator})

    def replace_credential(self, credential: dict) -> None:
        self.cdp.send("WebAuthn.removeCredential", {"authenticatorId": self.authenticator,
                                                    "credentialId": credential["credentialId"]})
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.authenticator, "credential": credential})

    def url(self, path: str) -> str:
        return self.world.url(path)

    def sign_in_with_password(self, login: str, password: str = PASSWORD, next_url: str = "/account") -> None:
        self.page.goto(self.url("/sign-in?next=" + next_url))
        self.page.fill("#login", login)
        self.page.fill("#password", password)
        self.page.click("form[action^='/sign-in'] button[type=submit]")
        self.page.wait_for_load_state()

    def add_passkey(self, name: str, password: str = PASSWORD, expect_error: bool = False) -> str | None:
        """From the account page (or the set-up page it is on)."""
        self.page.fill("#passkey-name", name)
        if self.page.locator("#passkey-password").count():
            self.page.fill("#passkey-password", password)
        return self.click_and_follow("#passkey-add button[type=submit]", "#passkey-add-error", expect_error)

    def click_and_follow(self, button: str, error_box: str, expect_error: bool = False) -> str | None:
        """Click a passkey button and wait until the page moves on (a new
        page, which may show the portal's refusal) or the script shows the
        browser's refusal. Returns the refusal when `expect_error`, else
        fails with it."""
        self.page.evaluate("() => { window.__stay = true; }")
        self.page.click(button)
        self.page.wait_for_function(
            "(box) => !window.__stay || (document.querySelector(box) && !document.querySelector(box).hidden)",
            arg=error_box)
        self.page.wait_for_load_state()
        shown = [t for t in self.page.locator(f"{error_box}:not([hidden]), .error-box, p.error:not([hidden])")
                 .all_inner_texts() if t.strip()]
        if expect_error:
            assert shown, "expected a refusal; the page is " + self.page.url
            return " ".join(shown)
        assert not shown, "the page said: " + " ".join(shown)
        return None

    def close(self) -> None:
        self.context.close()

    def cookie(self, name: str) -> str | None:
        return next((c["value"] for c in self.context.cookies() if c["name"] == name), None)


@pytest.fixture
def visitor(browser, world):
    v = Visitor(browser, world)
    yield v
    v.close()


def on_page(path_pattern: str):
    return re.compile(r"^https://[^/]+" + path_pattern)


@contextmanager
def evil_origin(tmp):
    """An HTTPS page at the tenant host name on another port: another
    origin the browser still lets claim the tenant host as RP ID."""
    import http.server
    import ssl
    import threading

    from tests.support.server import free_port
    from tests.support.tls import issue_certificates

    tls = issue_certificates(tmp / "evil-tls", [TENANT_HOST])

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<!doctype html><title>look-alike</title><p>Sign in</p>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls.cert_chain), str(tls.private_key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://{TENANT_HOST}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
