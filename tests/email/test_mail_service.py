"""The mail service against a real SMTP server: messages in the tenant's
name with a plain-text and an HTML part, STARTTLS and login, and every way
the server can fail named with the setting to check. An invitation whose
message cannot be sent leaves nothing behind."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from ostiary.services.rules import change_notices, email_links, invitations, mail, password_reset, users
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import MailUnavailable
from ostiary.store.tables import audit_log, email_links as links_table, users as users_table
from tests.email.conftest import PASSWORD, SENDER, mail_settings
from tests.support.server import free_port

ADMIN_ACTOR = Actor("user:1", "192.0.2.1", 1)
LINK = re.compile(r"https://acme\.id\.example\.test(?::\d+)?/invitation\?token=[\w-]+")


def _count(store, table, *where) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_an_invitation_arrives_in_the_tenants_name_as_text_and_html(store, acme, inbox):
    settings = mail_settings(inbox.port)
    invited = invitations.invite(store, settings, acme, ADMIN_ACTOR, email="newcomer@acme.test", display_name="Nia")
    assert invited.user.password_hash is None and not invited.resent
    [msg] = inbox.wait_for("newcomer@acme.test")
    assert msg["From"].addresses[0].display_name == "Acme Corp" and msg["From"].addresses[0].addr_spec == SENDER
    assert msg["Subject"] == "You are invited to Acme Corp"
    assert msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    link = LINK.search(text).group(0)
    assert f'href="{link}"' in html and "Hello Nia" in text and "72 hours" in text
    # Only the link's hash is stored: the token itself is nowhere in the database.
    token = link.rsplit("=", 1)[1]
    with store.read() as conn:
        stored = conn.execute(select(links_table.c.token_hash, links_table.c.expires_at, links_table.c.created_at)).one()
    assert stored.token_hash == email_links.hash_token(token) and token not in stored.token_hash
    assert stored.expires_at - stored.created_at == 72 * 3600


def test_inviting_again_replaces_the_earlier_link(store, acme, inbox):
    settings = mail_settings(inbox.port)
    invitations.invite(store, settings, acme, ADMIN_ACTOR, email="twice@acme.test")
    again = invitations.invite(store, settings, acme, ADMIN_ACTOR, email="twice@acme.test")
    assert again.resent
    first, second = (LINK.search(m.get_body(("plain",)).get_content()).group(0).rsplit("=", 1)[1]
                     for m in inbox.wait_for("twice@acme.test", 2)[-2:])
    assert email_links.peek(store, acme, email_links.INVITATION, first) is None
    assert email_links.peek(store, acme, email_links.INVITATION, second) is not None


def test_a_person_who_has_a_password_is_not_invited(store, acme, inbox):
    with pytest.raises(Exception, match="already has an account with a password"):
        invitations.invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR, email="bob@acme.test")


def test_smtp_down_refuses_the_invitation_and_keeps_nothing(store, acme):
    settings = mail_settings(free_port())  # nothing listens there
    with pytest.raises(MailUnavailable) as refused:
        invitations.invite(store, settings, acme, ADMIN_ACTOR, email="lost@acme.test")
    assert "refused the connection" in str(refused.value) and "OSTIARY_SMTP_PORT" in str(refused.value)
    assert users.find_user(store, acme, "lost@acme.test") is None
    assert _count(store, links_table) == 0
    assert _count(store, audit_log, audit_log.c.action == "user.invite") == 0


def test_a_refused_message_rolls_the_invitation_back(store, acme, inbox):
    """The server accepts the connection but refuses the recipient: the user
    and the link were already written in the transaction, and both go."""
    with pytest.raises(MailUnavailable, match="refused the recipient"):
        invitations.invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR, email="refused@acme.test")
    assert users.find_user(store, acme, "refused@acme.test") is None
    assert _count(store, links_table) == 0


def test_users_added_without_a_password_are_invited_when_email_is_configured(store, acme, inbox):
    row, invited = invitations.add_user_or_invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR,
                                                  email="quiet@acme.test")
    assert invited and row.password_hash is None
    assert inbox.wait_for("quiet@acme.test")
    from ostiary.config import load_settings

    row, invited = invitations.add_user_or_invite(store, load_settings(), acme, ADMIN_ACTOR, email="nomail@acme.test")
    assert not invited and row.password_hash is None
    row, invited = invitations.add_user_or_invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR,
                                                  email="haspw@acme.test", password=PASSWORD)
    assert not invited and inbox.messages("haspw@acme.test") == []


def test_an_invitation_link_sets_the_password_once(store, acme, inbox):
    invitations.invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR, email="once@acme.test")
    token = LINK.search(inbox.wait_for("once@acme.test")[0].get_body(("plain",)).get_content()).group(0).rsplit("=", 1)[1]
    with pytest.raises(Exception, match="at least 10"):
        password_reset.set_password_with_link(store, acme, email_links.INVITATION, token, "short", "192.0.2.9")
    # A refused password did not use the link up.
    password_reset.set_password_with_link(store, acme, email_links.INVITATION, token, PASSWORD, "192.0.2.9")
    assert users.authenticate(store, acme, "once@acme.test", PASSWORD) is not None
    with pytest.raises(Exception, match="cannot be used"):
        password_reset.set_password_with_link(store, acme, email_links.INVITATION, token, "another password 1", "x")
    # The token of an invitation is no reset token either.
    with pytest.raises(Exception, match="cannot be used"):
        password_reset.set_password_with_link(store, acme, email_links.RESET, token, "another password 1", "x")


def test_an_expired_link_is_refused(store, acme, inbox):
    from ostiary.store import TenantScope

    user = users.find_user(store, acme, "bob@acme.test")
    with store.write() as conn:
        token = email_links.issue_in(TenantScope(conn, acme), user.id, email_links.RESET, ADMIN_ACTOR,
                                     now=__import__("time").time() - 31 * 60)
    assert email_links.peek(store, acme, email_links.RESET, token) is None
    with pytest.raises(Exception, match="cannot be used"):
        password_reset.set_password_with_link(store, acme, email_links.RESET, token, "brand new password", "x")


def test_starttls_and_login_reach_a_server_that_requires_both(store, acme, secure_smtp, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(secure_smtp.ca))  # Ostiary trusts the system's CAs; here, the test CA
    secret = tmp_path / "smtp-password"
    secret.write_text("relay secret 42\n")
    settings = mail_settings(secure_smtp.port, smtp_security="starttls", smtp_user="relay-user",
                             smtp_password_file=str(secret), smtp_host="localhost")
    assert mail.check_connection(settings).ok
    invitations.invite(store, settings, acme, ADMIN_ACTOR, email="secure@acme.test")
    assert secure_smtp.wait_for("secure@acme.test")

    secret.write_text("not the password\n")
    finding = mail.check_connection(settings)
    assert not finding.ok and "OSTIARY_SMTP_PASSWORD_FILE" in finding.fix

    plain = mail_settings(secure_smtp.port, smtp_host="localhost")  # no STARTTLS: the server refuses to go on
    with pytest.raises(MailUnavailable):
        invitations.invite(store, plain, acme, ADMIN_ACTOR, email="plain@acme.test")
    assert users.find_user(store, acme, "plain@acme.test") is None


def test_a_certificate_the_system_does_not_trust_is_refused(secure_smtp, tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text("relay secret 42\n")
    settings = mail_settings(secure_smtp.port, smtp_security="starttls", smtp_user="relay-user",
                             smtp_password_file=str(secret), smtp_host="localhost")
    finding = mail.check_connection(settings)
    assert not finding.ok and "TLS" in finding.message and "certificate" in finding.fix


def test_doctor_says_when_email_is_off_and_when_the_server_is_down():
    from ostiary.config import load_settings

    off = mail.check_connection(load_settings())
    assert off.ok and "not configured" in off.message
    down = mail.check_connection(mail_settings(free_port()))
    assert not down.ok and down.breaks_sign_in and "refused the connection" in down.message


def test_the_second_factor_reset_notice_reaches_the_person(store, acme, inbox):
    user = users.find_user(store, acme, "bob@acme.test")
    assert change_notices.notify_second_factor_reset(store, mail_settings(inbox.port), acme, user.id, reset_by="admin@acme.test")
    [msg] = inbox.wait_for("bob@acme.test")
    assert msg["Subject"] == "Your Acme Corp two-factor sign-in was reset"
    assert "admin@acme.test" in msg.get_body(("plain",)).get_content()
    from ostiary.config import load_settings

    assert change_notices.notify_second_factor_reset(store, load_settings(), acme, user.id) is False


def test_an_admins_second_factor_reset_is_told_to_the_person_by_email_once_installed(store, acme, inbox):
    from ostiary.config import load_settings
    from ostiary.services.rules import second_factor
    from ostiary.services.base.actor import Actor

    user = users.find_user(store, acme, "bob@acme.test")
    change_notices.install_notifications(mail_settings(inbox.port))
    try:
        second_factor.reset_all(store, acme, user.id, Actor("admin@acme.test"))
        [msg] = inbox.wait_for("bob@acme.test")
        assert "admin@acme.test" in msg.get_body(("plain",)).get_content()
    finally:
        change_notices.install_notifications(load_settings())  # email off: the sender is removed again


def test_a_link_works_only_on_its_own_tenant_and_only_as_sent(store, acme, inbox):
    from ostiary.services.rules import tenants
    from ostiary.services.base.actor import CLI_ACTOR

    globex = tenants.add_tenant(store, "globex", CLI_ACTOR).id
    users.add_user(store, globex, CLI_ACTOR, email="nia@acme.test", password=PASSWORD)  # the same address there
    invitations.invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR, email="nia@acme.test")
    token = LINK.search(inbox.wait_for("nia@acme.test")[0].get_body(("plain",)).get_content()).group(0).rsplit("=", 1)[1]
    for tenant, tried in ((globex, token), (acme, token[:-1]), (acme, token + "A"), (acme, ""), (acme, "x" * 5000)):
        assert email_links.peek(store, tenant, email_links.INVITATION, tried) is None
        with pytest.raises(Exception, match="cannot be used"):
            password_reset.set_password_with_link(store, tenant, email_links.INVITATION, tried, "a fine passphrase", "x")
    assert users.authenticate(store, globex, "nia@acme.test", PASSWORD) is not None  # globex's Nia is untouched
    assert email_links.peek(store, acme, email_links.INVITATION, token) is not None


def test_a_disabled_person_cannot_use_their_link(store, acme, inbox):
    invitations.invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR, email="gone@acme.test")
    token = LINK.search(inbox.wait_for("gone@acme.test")[0].get_body(("plain",)).get_content()).group(0).rsplit("=", 1)[1]
    users.set_active(store, acme, ADMIN_ACTOR, "gone@acme.test", False)
    with pytest.raises(Exception, match="cannot be used"):
        password_reset.set_password_with_link(store, acme, email_links.INVITATION, token, "a fine passphrase", "x")


def test_two_uses_of_one_link_at_once_set_one_password(store, acme, inbox):
    import concurrent.futures

    invitations.invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR, email="race@acme.test")
    token = LINK.search(inbox.wait_for("race@acme.test")[0].get_body(("plain",)).get_content()).group(0).rsplit("=", 1)[1]

    def use(password):
        try:
            password_reset.set_password_with_link(store, acme, email_links.INVITATION, token, password, "x")
            return password
        except Exception:
            return None

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        won = [p for p in pool.map(use, [f"passphrase number {i}" for i in range(4)]) if p]
    assert len(won) == 1
    assert users.authenticate(store, acme, "race@acme.test", won[0]) is not None


def test_setting_a_password_otherwise_retires_links_still_in_the_mailbox(store, acme, inbox):
    invitations.invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR, email="late@acme.test")
    token = LINK.search(inbox.wait_for("late@acme.test")[0].get_body(("plain",)).get_content()).group(0).rsplit("=", 1)[1]
    users.set_password(store, acme, ADMIN_ACTOR, "late@acme.test", "set by the admin 1")
    assert email_links.peek(store, acme, email_links.INVITATION, token) is None


def test_old_links_are_pruned(store, acme, inbox):
    import time

    from ostiary.store import TenantScope

    user = users.find_user(store, acme, "bob@acme.test")
    with store.write() as conn:
        email_links.issue_in(TenantScope(conn, acme), user.id, email_links.RESET, ADMIN_ACTOR, now=time.time() - 3 * 86400)
        fresh = email_links.issue_in(TenantScope(conn, acme), user.id, email_links.INVITATION, ADMIN_ACTOR)
    assert email_links.prune(store) == 1
    assert email_links.peek(store, acme, email_links.INVITATION, fresh) is not None


def test_names_are_escaped_in_the_html_part(store, acme, inbox):
    invitations.invite(store, mail_settings(inbox.port), acme, ADMIN_ACTOR, email="mallory@acme.test",
                       display_name='<img src="https://evil.test/x">Mallory')
    [msg] = inbox.wait_for("mallory@acme.test")
    html = msg.get_body(("html",)).get_content()
    assert "<img" not in html and "&lt;img src=" in html
    assert '<img src="https://evil.test/x">Mallory' in msg.get_body(("plain",)).get_content()  # plain text is text


def test_a_tenant_name_cannot_add_headers(inbox):
    msg = mail.compose(mail_settings(inbox.port), "invitation", tenant_name="Acme\r\nBcc: victim@evil.test",
                       to="x@acme.test", name="X", link="https://acme.id.example.test/invitation?token=t", hours=72)
    assert msg["Bcc"] is None and msg["Subject"] == "You are invited to Acme Bcc: victim@evil.test"
    mail.send(mail_settings(inbox.port), msg)
    [received] = inbox.wait_for("x@acme.test")
    assert received["Bcc"] is None


def test_implicit_tls_reaches_a_server_that_speaks_tls_from_the_first_byte(store, acme, implicit_tls_smtp, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(implicit_tls_smtp.ca))
    secret = tmp_path / "smtp-password"
    secret.write_text("relay secret 42\n")
    settings = mail_settings(implicit_tls_smtp.port, smtp_security="tls", smtp_user="relay-user",
                             smtp_password_file=str(secret), smtp_host="localhost")
    finding = mail.check_connection(settings)
    assert finding.ok and "implicit TLS" in finding.message and "relay-user" in finding.message
    invitations.invite(store, settings, acme, ADMIN_ACTOR, email="tls@acme.test")
    assert implicit_tls_smtp.wait_for("tls@acme.test")
    # STARTTLS against it: the plain greeting never comes, and the error says which setting to check.
    down = mail.check_connection(mail_settings(implicit_tls_smtp.port, smtp_security="starttls", smtp_host="localhost",
                                               smtp_timeout=2))
    assert not down.ok and "OSTIARY_SMTP" in down.fix


def test_an_admins_email_change_is_told_to_the_old_address_once_installed(store, acme, inbox):
    from ostiary.config import load_settings

    change_notices.install_notifications(mail_settings(inbox.port))
    try:
        users.update_user(store, acme, Actor("admin@acme.test"), "bob@acme.test", email="bob.new@acme.test")
        [msg] = inbox.wait_for("bob@acme.test")
        assert msg["Subject"] == "Your Acme Corp email address was changed"
        text = msg.get_body(("plain",)).get_content()
        assert "An administrator changed the email address" in text and "bob.new@acme.test" in text
        assert "An administrator changed" in msg.get_body(("html",)).get_content()
        # A change of the name only, or to the same address, tells nobody.
        users.update_user(store, acme, Actor("admin@acme.test"), "bob.new@acme.test", display_name="Robert")
        users.update_user(store, acme, Actor("admin@acme.test"), "bob.new@acme.test", email="bob.new@acme.test")
    finally:
        change_notices.install_notifications(load_settings())  # email off: the sender is removed again
    users.update_user(store, acme, Actor("admin@acme.test"), "bob.new@acme.test", email="bob3@acme.test")
    assert len(inbox.messages("bob@acme.test")) == 1
    assert inbox.messages("bob.new@acme.test") == [] and inbox.messages("bob3@acme.test") == []


def test_an_email_change_stands_when_the_notice_cannot_be_sent(store, acme):
    from ostiary.config import load_settings

    change_notices.install_notifications(mail_settings(free_port()))  # nothing listens there
    try:
        row = users.update_user(store, acme, Actor("admin@acme.test"), "bob@acme.test", email="bob.new@acme.test")
    finally:
        change_notices.install_notifications(load_settings())
    assert row.email == "bob.new@acme.test"
    assert users.find_user(store, acme, "bob.new@acme.test") is not None
