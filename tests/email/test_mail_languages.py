"""The language of each email (docs/email.md, "Languages"), read back from a
real SMTP server: the recipient's saved language, else the language of the
page the message was asked from, else English; the subject, the plain-text
part and the HTML part alike. The English messages are pinned word for word:
translating them changed nothing for English readers."""

from __future__ import annotations

import re

from ostiary.services.base.actor import Actor
from ostiary.services.rules import change_notices, email_change, invitations, languages, mail, password_reset, users
from tests.email.conftest import mail_settings

ADMIN_ACTOR = Actor("user:1", "192.0.2.1", 1)
RESET_LINK = re.compile(r"https://acme\.id\.example\.test(?::\d+)?/reset-password\?token=[\w-]+")
SHIPPED = {"en", "de"}

ENGLISH_RESET_TEXT = """Hello Bob,

Someone asked to reset the password of your Acme Corp account. If it was you, open this link to choose a new password:

{link}

The link works once, for 30 minutes. Choosing a new password signs you out everywhere.
If you did not ask for this, ignore this message: your password stays as it is.
"""
ENGLISH_RESET_HTML = [
    '<html lang="en">',
    "<p>Hello Bob,</p>",
    "<p>Someone asked to reset the password of your Acme Corp account. If it was you, choose a new password:</p>",
    '<a href="{link}" style="display:inline-block;background:#1d4ed8;color:#ffffff;padding:10px 16px;'
    'border-radius:6px;text-decoration:none;">Choose a new password</a>',
    "<p>The link works once, for 30 minutes. Choosing a new password signs you out everywhere.</p>",
    "<p>If you did not ask for this, ignore this message: your password stays as it is.</p>",
    "This message was sent by Acme Corp's sign-in service. You cannot reply to it.</p>",
]
# Every English sentence of the reset message: none may be left in the German one.
ENGLISH_RESET_WORDS = ["Hello", "Someone asked", "open this link", "The link works once", "signs you out",
                       "If you did not ask", "Choose a new password", "Or paste", "This message was sent",
                       "Reset your"]


def _parts(msg) -> tuple[str, str]:
    """The plain-text and HTML parts, with the line ends a mail reader shows (a
    base64 part, as non-ASCII text is sent, decodes to the wire's CRLF)."""
    return tuple(msg.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))


def _reset(store, settings, tenant_id, inbox, login: str, asked: str | None):
    msg = password_reset.request_reset(store, settings, tenant_id, login, "192.0.2.50", asked)
    assert msg is not None
    mail.send(settings, msg)
    [received] = inbox.wait_for(login)
    inbox.clear()
    return received


def _save_language(store, tenant_id, login: str, language: str | None) -> None:
    languages.set_language(store, tenant_id, users.find_user(store, tenant_id, login).id, language, SHIPPED)


def test_a_german_speaking_person_gets_the_german_reset_mail(store, acme, inbox):
    msg = _reset(store, mail_settings(inbox.port), acme, inbox, "bob@acme.test", "de")
    text, html = _parts(msg)
    link = RESET_LINK.search(text).group(0)
    assert msg["Subject"] == "Ihr Passwort für Acme Corp zurücksetzen"
    assert msg["Content-Language"] == "de"
    assert text == f"""Hallo Bob,

Jemand hat angefordert, das Passwort Ihres Kontos bei Acme Corp zurückzusetzen. Wenn Sie das waren, öffnen Sie diesen Link, um ein neues Passwort zu wählen:

{link}

Der Link kann einmal verwendet werden und gilt 30 Minuten. Wenn Sie ein neues Passwort wählen, werden Sie überall abgemeldet.
Wenn Sie das nicht angefordert haben, ignorieren Sie diese Nachricht: Ihr Passwort bleibt, wie es ist.
"""
    assert '<html lang="de">' in html and f'href="{link}"' in html
    for german in ("<p>Hallo Bob,</p>", "Wenn Sie das waren, wählen Sie ein neues Passwort:</p>",
                   ">Neues Passwort wählen</a>", f"Oder fügen Sie diese Adresse in Ihren Browser ein: {link}",
                   "gilt 30 Minuten.", "Diese Nachricht wurde vom Anmeldedienst von Acme Corp gesendet."):
        assert german in html, german
    for english in ENGLISH_RESET_WORDS:
        assert english not in text and english not in html and english not in msg["Subject"], english


def test_an_english_speaking_person_gets_the_english_reset_mail_unchanged(store, acme, inbox):
    for asked in ("en", None, "fr"):  # English, no page language, a language Ostiary does not ship
        msg = _reset(store, mail_settings(inbox.port), acme, inbox, "bob@acme.test", asked)
        text, html = _parts(msg)
        link = RESET_LINK.search(text).group(0)
        assert msg["Subject"] == "Reset your Acme Corp password"
        assert msg["Content-Language"] == "en"
        assert text == ENGLISH_RESET_TEXT.format(link=link)
        for english in ENGLISH_RESET_HTML:
            assert english.format(link=link) in html, english


def test_the_recipients_saved_language_wins_over_the_page_they_asked_from(store, acme, inbox):
    settings = mail_settings(inbox.port)
    _save_language(store, acme, "bob@acme.test", "de")
    msg = _reset(store, settings, acme, inbox, "bob@acme.test", "en")
    assert msg["Subject"] == "Ihr Passwort für Acme Corp zurücksetzen" and "Hallo Bob," in _parts(msg)[0]
    _save_language(store, acme, "bob@acme.test", "en")
    msg = _reset(store, settings, acme, inbox, "bob@acme.test", "de")
    assert msg["Subject"] == "Reset your Acme Corp password" and "Hello Bob," in _parts(msg)[0]


def test_an_invitation_is_in_the_language_of_the_admin_page_that_sent_it(store, acme, inbox):
    settings = mail_settings(inbox.port)
    invitations.invite(store, settings, acme, ADMIN_ACTOR, email="nia@acme.test", display_name="Nia <3",
                       language="de")
    [msg] = inbox.wait_for("nia@acme.test")
    text, html = _parts(msg)
    assert msg["Subject"] == "Sie sind zu Acme Corp eingeladen"
    assert "Hallo Nia <3," in text and "Öffnen Sie diesen Link, um Ihr Passwort zu wählen" in text
    assert "gilt 72 Stunden." in text and "Einladung nicht erwartet" in text and "Hello" not in text
    # A name is escaped inside a translated sentence too.
    assert "<p>Hallo Nia &lt;3,</p>" in html and ">Einladung annehmen</a>" in html and "Nia <3" not in html
    # From the CLI or the API (no page): English.
    row, invited = invitations.add_user_or_invite(store, settings, acme, ADMIN_ACTOR, email="ola@acme.test")
    assert invited
    [msg] = inbox.wait_for("ola@acme.test")
    assert msg["Subject"] == "You are invited to Acme Corp" and "The link works once, for 72 hours." in _parts(msg)[0]


def test_an_email_change_and_its_notice_follow_the_page_it_was_asked_from(store, acme, inbox):
    settings = mail_settings(inbox.port)
    bob = users.find_user(store, acme, "bob@acme.test")
    email_change.request_change(store, settings, acme, Actor(f"user:{bob.id}", "192.0.2.7", bob.id), bob.id,
                                "bob.neu@acme.test", "de")
    [msg] = inbox.wait_for("bob.neu@acme.test")
    text, html = _parts(msg)
    assert msg["Subject"] == "Bestätigen Sie Ihre neue E-Mail-Adresse bei Acme Corp"
    assert ("Sie haben beantragt, die E-Mail-Adresse Ihres Kontos bei Acme Corp von bob@acme.test in "
            "bob.neu@acme.test zu ändern. Öffnen Sie diesen Link, um die Änderung zu bestätigen:") in text
    assert "gilt 24 Stunden. Bis Sie bestätigen, bleibt Ihre Adresse bob@acme.test." in text
    assert ">Neue Adresse bestätigen</a>" in html and '<html lang="de">' in html
    token = re.search(r"token=([\w-]+)", text).group(1)
    old, new = email_change.confirm_change(store, acme, token, "192.0.2.7")
    mail.send(settings, email_change.changed_notice(store, settings, acme, old, new, language="de"))
    [notice] = inbox.wait_for("bob@acme.test")
    assert notice["Subject"] == "Ihre E-Mail-Adresse bei Acme Corp wurde geändert"
    assert ("Die E-Mail-Adresse Ihres Kontos bei Acme Corp wurde von bob@acme.test in bob.neu@acme.test geändert."
            in _parts(notice)[0])
    assert "Wenn Sie diese Änderung nicht selbst vorgenommen haben" in _parts(notice)[1]


def test_an_administrators_notices_follow_the_saved_language_else_english(store, acme, inbox):
    from ostiary.config import load_settings

    settings = mail_settings(inbox.port)
    bob = users.find_user(store, acme, "bob@acme.test")
    assert change_notices.notify_second_factor_reset(store, settings, acme, bob.id, reset_by="admin@acme.test")
    [msg] = inbox.wait_for("bob@acme.test")
    assert msg["Subject"] == "Your Acme Corp two-factor sign-in was reset"
    inbox.clear()

    _save_language(store, acme, "bob@acme.test", "de")
    assert change_notices.notify_second_factor_reset(store, settings, acme, bob.id, reset_by="admin@acme.test")
    [msg] = inbox.wait_for("bob@acme.test")
    text, html = _parts(msg)
    assert msg["Subject"] == "Ihre Zwei-Faktor-Anmeldung bei Acme Corp wurde zurückgesetzt"
    assert ("Ein Administrator von Acme Corp hat die Zwei-Faktor-Anmeldung Ihres Kontos zurückgesetzt "
            "(admin@acme.test).") in text
    assert re.search(r'Wenn Sie sich das nächste Mal <a href="https://acme\.id\.example\.test(:\d+)?/sign-in">'
                     r"anmelden</a>, können Sie wieder einen zweiten Faktor einrichten\.", html)
    inbox.clear()

    change_notices.install_notifications(settings)
    try:
        users.update_user(store, acme, Actor("admin@acme.test"), "bob@acme.test", email="bob.new@acme.test")
        [notice] = inbox.wait_for("bob@acme.test")
    finally:
        change_notices.install_notifications(load_settings())  # email off: the sender is removed again
    assert notice["Subject"] == "Ihre E-Mail-Adresse bei Acme Corp wurde geändert"
    assert "Ein Administrator hat die E-Mail-Adresse Ihres Kontos bei Acme Corp" in _parts(notice)[0]
    assert "Wenn Sie diese Änderung nicht erwartet haben" in _parts(notice)[1]


def test_the_language_of_a_message_is_chosen_in_order():
    assert mail.language_for("de", "en") == "de"
    assert mail.language_for(None, "de") == "de"
    assert mail.language_for("fr", "de") == "de"  # a saved language Ostiary no longer ships counts as none
    assert mail.language_for(None, None) == "en" and mail.language_for("xx", "yy") == "en"
