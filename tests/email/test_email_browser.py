"""Email end to end: a real `ostiary serve` (HTTPS) sending through a real
SMTP server process on loopback; the messages it received are parsed and
their links followed in Debian's Chromium through the real portal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ostiary.services.rules import api_tokens, languages, tenants, users
from ostiary.services.base.actor import CLI_ACTOR, Actor
from ostiary.store import open_store
from ostiary.store.tables import audit_log
from tests.email.conftest import ADMIN, PASSWORD, SENDER
from tests.support.browser import chromium
from tests.support.server import OstiaryServer, free_port, loopback_client
from tests.support.smtpserver import SmtpServer
from tests.support.tls import issue_certificates

pytestmark = pytest.mark.slow

HOST = "acme.id.example.test"
NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"https://acme\.id\.example\.test:\d+/(?:invitation|reset-password|confirm-email)\?token=[\w-]+")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class World:
    def __init__(self, tmp):
        self.tmp = tmp
        self.url_db = f"sqlite:///{tmp / 'ostiary.db'}"
        self.store = open_store(self.url_db)
        self.store.migrate()
        tenants.init_installation(self.store, "id.example.test", "acme", ADMIN, PASSWORD, CLI_ACTOR)
        self.tenant_id = tenants.tenant_by_slug(self.store, "acme").id
        for email in ("bob@acme.test", "carol@acme.test", "dave@acme.test", "erin@acme.test"):
            users.add_user(self.store, self.tenant_id, CLI_ACTOR, email=email, password=PASSWORD)
        self.token = api_tokens.create_token(self.store, self.tenant_id, Actor("setup"), "writer", "write").token
        self.tls = issue_certificates(tmp / "tls", ["localhost", "*.id.example.test"])
        self.smtp = SmtpServer(tmp / "inbox", free_port()).start()
        self.port = free_port()
        env = {"OSTIARY_DATABASE_URL": self.url_db, "OSTIARY_PUBLIC_PORT": str(self.port),
               "OSTIARY_DATA_DIR": str(tmp), "OSTIARY_SMTP_HOST": "127.0.0.1",
               "OSTIARY_SMTP_PORT": str(self.smtp.port), "OSTIARY_SMTP_SECURITY": "none",
               "OSTIARY_SMTP_FROM": SENDER, "OSTIARY_SMTP_TIMEOUT": "5",
               # So each test can speak from its own client address (the throttles count per address).
               "OSTIARY_TRUSTED_PROXIES": "127.0.0.1/32"}
        self.server = OstiaryServer(env, self.port, workers=1, tls=(self.tls.cert_chain, self.tls.private_key),
                                    log_path=tmp / "server.log")
        self.server.start(ready_host=HOST, ca_cert=self.tls.ca_cert)

    def url(self, path: str = "/") -> str:
        return f"https://{HOST}:{self.port}{path}"

    def api(self):
        client = loopback_client(self.tls.ca_cert, headers={"authorization": f"Bearer {self.token}"})
        client.base_url = self.url("/api/v1")
        return client

    def audited(self, action: str) -> int:
        with self.store.read() as conn:
            return conn.execute(select(func.count()).select_from(audit_log)
                                .where(audit_log.c.action == action)).scalar_one()

    def close(self):
        self.server.stop()
        self.smtp.stop()
        self.store.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("email-world"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def new_page(browser, address: str = "198.51.100.1"):
    context = browser.new_context(ignore_https_errors=True, extra_http_headers={"x-forwarded-for": address})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def sign_in(page, world, login: str, password: str) -> None:
    page.goto(world.url("/sign-in"))
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")


def parts(msg) -> tuple[str, str]:
    """The plain-text and HTML parts, with the line ends a mail reader shows
    (an encoded part decodes to the wire's CRLF)."""
    return tuple(msg.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))


def link_in(msg) -> str:
    """The message's link, the same in its plain-text and its HTML part."""
    text, html = msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()
    link = LINK.search(text).group(0)
    assert f'href="{link}"' in html
    return link


def test_an_invited_person_chooses_a_password_from_the_link_and_signs_in(world, browser):
    with world.api() as api:
        answer = api.post("/invitations", json={"email": "nia@acme.test", "display_name": "Nia"})
    assert answer.status_code == 201, answer.text
    [msg] = world.smtp.wait_for("nia@acme.test")
    assert msg["Subject"] == "You are invited to acme" and SENDER in str(msg["From"])
    link = link_in(msg)

    page = new_page(browser)
    page.goto(link)
    assert page.inner_text("h1") == "Welcome"
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password_again", NEW_PASSWORD)
    page.click("button[type=submit]")
    assert page.inner_text("h1") == "Password set"

    sign_in(page, world, "nia@acme.test", NEW_PASSWORD)
    page.wait_for_url(re.compile(r".*/$"))
    page.goto(world.url("/account"))
    assert "nia@acme.test" in page.inner_text("main")

    # Single use: the same link again is refused, and it set no password.
    answer = page.goto(link)
    assert answer.status == 410 and "cannot be used" in page.inner_text("main")


def test_forgot_password_answers_alike_and_its_link_ends_every_other_session(world, browser):
    signed_in = new_page(browser, "198.51.100.2")
    sign_in(signed_in, world, "bob@acme.test", PASSWORD)
    signed_in.wait_for_url(re.compile(r".*/$"))

    page = new_page(browser, "198.51.100.3")
    answers = []
    for address in ("bob@acme.test", "nobody@acme.test"):
        page.goto(world.url("/sign-in"))
        page.click("#forgot-password")
        page.fill("#email", address)
        page.click("button[type=submit]")
        answers.append(page.inner_text("main"))
    assert answers[0] == answers[1] and "If an account uses that address" in answers[0]

    [msg] = world.smtp.wait_for("bob@acme.test")
    assert msg["Subject"] == "Reset your acme password" and "30 minutes" in msg.get_body(("plain",)).get_content()
    page.goto(link_in(msg))
    assert page.inner_text("h1") == "Choose a new password"
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password_again", "not the same passphrase")
    page.click("button[type=submit]")
    assert "does not match" in page.inner_text("main")  # the link still works after a refusal
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password_again", NEW_PASSWORD)
    page.click("button[type=submit]")
    assert page.inner_text("h1") == "Password set"

    # The browser that was signed in is signed out.
    signed_in.goto(world.url("/account"))
    assert "/sign-in" in signed_in.url
    sign_in(page, world, "bob@acme.test", PASSWORD)
    assert "not right" in page.inner_text("main")
    sign_in(page, world, "bob@acme.test", NEW_PASSWORD)
    page.wait_for_url(re.compile(r".*/$"))
    assert world.smtp.messages("nobody@acme.test") == []
    assert page.goto(link_in(msg)).status == 410


def test_a_new_email_address_is_confirmed_by_a_link_sent_to_it(world, browser):
    page = new_page(browser, "198.51.100.4")
    sign_in(page, world, "carol@acme.test", PASSWORD)
    page.wait_for_url(re.compile(r".*/$"))
    page.goto(world.url("/account"))
    page.fill("#new_email", "carol.new@acme.test")
    page.fill("#email_password", PASSWORD)
    page.click("#email_password ~ button[type=submit]")
    assert "We sent a link to carol.new@acme.test" in page.inner_text("main")
    assert "carol@acme.test" in page.inner_text("main")  # unchanged until confirmed
    assert world.smtp.messages("carol@acme.test") == []

    [msg] = world.smtp.wait_for("carol.new@acme.test")
    page.goto(link_in(msg))
    assert page.inner_text("#new-email") == "carol.new@acme.test"
    page.click("button[type=submit]")
    assert page.inner_text("h1") == "Email address changed"
    page.goto(world.url("/account"))
    assert "carol.new@acme.test" in page.inner_text("main")
    # The old address is told, in case the change was not the person's own.
    [notice] = world.smtp.wait_for("carol@acme.test")
    assert notice["Subject"] == "Your acme email address was changed"
    assert "carol.new@acme.test" in notice.get_body(("plain",)).get_content()

    other = new_page(browser, "198.51.100.5")
    sign_in(other, world, "carol.new@acme.test", PASSWORD)
    other.wait_for_url(re.compile(r".*/$"))


def _forgot(client, world, login: str):
    page = client.get(world.url("/forgot-password"))
    csrf = CSRF.search(page.text).group(1)
    return client.post(world.url("/forgot-password"), data={"csrf": csrf, "email": login})


def test_forgot_password_is_throttled_per_account_and_per_address(world):
    before = world.audited("user.password_reset_requested")
    with loopback_client(world.tls.ca_cert, headers={"x-forwarded-for": "203.0.113.10"}) as client:
        answers = [_forgot(client, world, "dave@acme.test") for _ in range(5)]
    # The same answer every time; only the account's first three requests send a link.
    assert {a.status_code for a in answers} == {200} and len({a.text.split("<main")[1] for a in answers}) == 1
    assert len(world.smtp.wait_for("dave@acme.test", 3)) >= 3
    assert world.audited("user.password_reset_requested") - before == 3

    with loopback_client(world.tls.ca_cert, headers={"x-forwarded-for": "203.0.113.11"}) as client:
        answers = [_forgot(client, world, f"someone{i}@acme.test") for i in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert "Too many requests from your network" in answers[-1].text and int(answers[-1].headers["retry-after"]) > 0


def test_smtp_down_gives_the_admin_a_clear_error_and_creates_nobody(world, browser):
    world.smtp.stop()
    try:
        with world.api() as api:
            answer = api.post("/invitations", json={"email": "ghost@acme.test"})
            assert answer.status_code == 503
            assert answer.json()["error"] == "email_unavailable" and "refused the connection" in answer.json()["message"]
            assert api.post("/users", json={"email": "ghost@acme.test"}).status_code == 503
            assert api.get("/users/ghost@acme.test").status_code == 404

        page = new_page(browser, "198.51.100.6")
        sign_in(page, world, ADMIN, PASSWORD)
        page.wait_for_url(re.compile(r".*/$"))
        page.goto(world.url("/admin/users"))
        page.fill("#email", "ghost@acme.test")
        with page.expect_response(lambda r: r.request.method == "POST") as created:
            page.click("#password ~ button[type=submit]")
        assert created.value.status == 503
        errors = page.inner_text("#form-errors")
        assert "Nothing was changed" in errors and "refused the connection" in errors
        assert users.find_user(world.store, world.tenant_id, "ghost@acme.test") is None
    finally:
        world.smtp.start()


AXE = Path(__file__).parent.parent / "node" / "node_modules" / "axe-core" / "axe.min.js"


def test_the_admin_page_invites_a_user_created_without_a_password_and_can_invite_again(world, browser):
    world.smtp.clear()
    page = new_page(browser, "198.51.100.7")
    sign_in(page, world, ADMIN, PASSWORD)
    page.wait_for_url(re.compile(r".*/$"))
    page.goto(world.url("/admin/users"))
    assert "invite the person by email" in page.inner_text("#password-help")
    page.fill("#email", "quinn@acme.test")
    page.click("#password ~ button[type=submit]")
    assert "created and invited by email" in page.inner_text("main")
    first = link_in(world.smtp.wait_for("quinn@acme.test")[0])
    page.click("text=Send the invitation again")
    assert "Invitation sent to quinn@acme.test" in page.inner_text("main")
    second = link_in(world.smtp.wait_for("quinn@acme.test", 2)[1])
    assert first != second
    assert page.goto(first).status == 410  # the fresh link replaced the first
    assert page.goto(second).status == 200


def test_the_email_pages_have_no_serious_accessibility_problems(world, browser):
    """axe-core on each page a link from an email opens, and on "Forgot your password?"."""
    world.smtp.clear()
    with world.api() as api:
        assert api.post("/invitations", json={"email": "axe@acme.test"}).status_code == 201
    invitation = link_in(world.smtp.wait_for("axe@acme.test")[0])
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    found = {}
    for url in (world.url("/forgot-password"), invitation, world.url("/reset-password?token=nope")):
        page.goto(url)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        bad = [f"{v['id']} ({v['impact']}): {v['help']}" for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
        if bad:
            found[url] = bad
    context.close()
    assert not found, found


def test_a_link_form_from_another_site_changes_nothing(world):
    """Without the double-submit token (a forged cross-site form), the reset
    form is refused and the link still works for its owner."""
    world.smtp.clear()
    with loopback_client(world.tls.ca_cert, headers={"x-forwarded-for": "203.0.113.20"}) as client:
        assert _forgot(client, world, "erin@acme.test").status_code == 200
    link = link_in(world.smtp.wait_for("erin@acme.test")[0])
    token = link.rsplit("=", 1)[1]
    with loopback_client(world.tls.ca_cert) as client:
        forged = client.post(world.url("/reset-password"), data={"token": token, "new_password": "attacker chose this",
                                                                 "new_password_again": "attacker chose this"},
                             headers={"origin": "https://evil.test", "sec-fetch-site": "cross-site"})
        assert forged.status_code == 403
        assert client.get(link).status_code == 200  # still usable
    assert users.authenticate(world.store, world.tenant_id, "erin@acme.test", "attacker chose this") is None


def test_a_reset_mail_is_in_the_language_of_the_page_it_was_asked_from(world):
    """docs/email.md, "Languages": through the real portal, a German browser's
    "Forgot your password?" sends the German message, an English one's the
    English message; a saved language wins over the browser's."""
    for email, name in (("gerda@acme.test", "Gerda"), ("emil@acme.test", "Emil"), ("saskia@acme.test", "Saskia")):
        users.add_user(world.store, world.tenant_id, CLI_ACTOR, email=email, display_name=name, password=PASSWORD)
    saskia = users.find_user(world.store, world.tenant_id, "saskia@acme.test")
    languages.set_language(world.store, world.tenant_id, saskia.id, "en", {"en", "de"})
    german = {"x-forwarded-for": "203.0.113.30", "accept-language": "de-DE,de;q=0.9,en;q=0.5"}
    with loopback_client(world.tls.ca_cert, headers=german) as client:
        answer = _forgot(client, world, "gerda@acme.test")
        assert answer.status_code == 200 and '<html lang="de">' in answer.text
        assert _forgot(client, world, "saskia@acme.test").status_code == 200
    with loopback_client(world.tls.ca_cert, headers={"x-forwarded-for": "203.0.113.31", "accept-language": "en"}) as client:
        assert _forgot(client, world, "emil@acme.test").status_code == 200

    [msg] = world.smtp.wait_for("gerda@acme.test")
    text, html = parts(msg)
    link_in(msg)  # the same working link in both parts: the language changes only the words
    assert msg["Subject"] == "Ihr Passwort für acme zurücksetzen" and msg["Content-Language"] == "de"
    assert text.startswith("Hallo Gerda,\n\nJemand hat angefordert, das Passwort Ihres Kontos bei acme zurückzusetzen.")
    assert "gilt 30 Minuten." in text and "Hello" not in text and "The link works" not in text
    assert '<html lang="de">' in html and ">Neues Passwort wählen</a>" in html and "Choose a new password" not in html

    [msg] = world.smtp.wait_for("emil@acme.test")
    text, html = parts(msg)
    assert msg["Subject"] == "Reset your acme password" and msg["Content-Language"] == "en"
    assert text == ("Hello Emil,\n\nSomeone asked to reset the password of your acme account. If it was you, open this "
                    f"link to choose a new password:\n\n{link_in(msg)}\n\nThe link works once, for 30 minutes. Choosing "
                    "a new password signs you out everywhere.\nIf you did not ask for this, ignore this message: your "
                    "password stays as it is.\n")
    assert '<html lang="en">' in html and ">Choose a new password</a>" in html

    [msg] = world.smtp.wait_for("saskia@acme.test")  # asked from a German page, but she chose English
    assert msg["Subject"] == "Reset your acme password" and "Hello Saskia," in msg.get_body(("plain",)).get_content()


def test_an_invitation_from_a_german_admin_page_is_in_german(world, browser):
    context = browser.new_context(ignore_https_errors=True, locale="de-DE",
                                  extra_http_headers={"x-forwarded-for": "198.51.100.8"})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, world, ADMIN, PASSWORD)
        page.wait_for_url(re.compile(r".*/$"))
        page.goto(world.url("/admin/users"))
        assert page.locator("html").get_attribute("lang") == "de"
        page.fill("#email", "jonas@acme.test")
        page.fill("#display_name", "Jonas")
        page.click("#password ~ button[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/users/\d+"))
    finally:
        context.close()
    [msg] = world.smtp.wait_for("jonas@acme.test")
    text, html = parts(msg)
    assert msg["Subject"] == "Sie sind zu acme eingeladen"
    assert text.startswith("Hallo Jonas,\n\nSie sind zu acme eingeladen. Öffnen Sie diesen Link") and "72 Stunden" in text
    assert '<html lang="de">' in html and ">Einladung annehmen</a>" in html and "You are invited" not in html
    link_in(msg)
