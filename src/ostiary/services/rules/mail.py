"""Email: plain-text and HTML messages from templates, in the recipient's
language (docs/email.md, "Languages"; the text through the pages'
translation layer, docs/translations.md), sent over SMTP in the tenant's
name (docs/email.md). Everything here blocks on the network, so the
portal calls it in a worker thread, never on the event loop.

`connect` opens and authenticates the connection before a caller writes
anything, and a caller that must not keep rows for a message that was never
sent (an invitation) sends inside its transaction: a refused message rolls
the rows back."""

from __future__ import annotations

import functools
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ostiary import translations
from ostiary.translations import N_
from ostiary.config import Settings
from ostiary.dns.sign_in_checks import ERROR, INFO, OK, Finding
from ostiary.services.base.errors import MailNotConfigured, MailUnavailable, Message

TEMPLATE_DIR = Path(__file__).parent / "mail_templates"


# One template pair (KIND.txt and KIND.html) per kind of message, and its subject.
SUBJECTS = {
    "invitation": N_("You are invited to %(tenant)s"),
    "password_reset": N_("Reset your %(tenant)s password"),
    "email_change": N_("Confirm your new %(tenant)s email address"),
    "email_changed": N_("Your %(tenant)s email address was changed"),
    "second_factor_reset": N_("Your %(tenant)s two-factor sign-in was reset"),
}


def language_for(saved: str | None, asked: str | None = None) -> str:
    """The language of a message (docs/email.md, "Languages"): the
    recipient's saved choice (users.language), else the language of the page
    the message was asked from (`asked`), else English; a language Ostiary
    does not ship counts as none."""
    shipped = translations.catalogs()
    for language in (saved, asked):
        if language in shipped:
            return language
    return translations.DEFAULT


@functools.cache
def templates(language: str) -> Environment:
    """The templates with one language's catalog (docs/translations.md): one
    environment per language, so threads sending in different languages
    never share a gettext."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    # As the portal's (ostiary/portal/rendering.py) and babel.cfg: one-line message ids.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations.catalogs()[language], newstyle=True)
    return env


NOT_CONFIGURED = N_("email is not configured, so no message can be sent: set OSTIARY_SMTP_HOST and "
                    "OSTIARY_SMTP_FROM (docs/email.md)")


def compose(settings: Settings, kind: str, *, tenant_name: str, to: str, language: str | None = None,
            **values) -> EmailMessage:
    """A multipart/alternative message (plain text first, then HTML) from the
    kind's templates, in `language` (English when None or not shipped: see
    `language_for`), From the tenant's name at OSTIARY_SMTP_FROM."""
    language = language_for(language)
    catalog = translations.catalogs()[language]
    msg = EmailMessage()
    # A header is one line: whatever whitespace a tenant's name holds becomes single spaces.
    header_name = " ".join(tenant_name.split())
    msg["Subject"] = catalog.gettext(SUBJECTS[kind]) % {"tenant": header_name}
    msg["From"] = formataddr((header_name, settings.smtp_from))
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2])
    # RFC 3834: no vacation replies to these.
    msg["Auto-Submitted"] = "auto-generated"
    context = {"tenant": tenant_name, "language": language, **values}
    env = templates(language)
    msg.set_content(env.get_template(f"{kind}.txt").render(**context))
    msg.add_alternative(env.get_template(f"{kind}.html").render(**context), subtype="html")
    msg["Content-Language"] = language  # after the parts: setting content clears Content-* headers
    return msg


def _where(settings: Settings) -> Message:
    return Message(N_("the SMTP server %(address)s"), address=f"{settings.smtp_host}:{settings.effective_smtp_port}")


def explain(settings: Settings, exc: BaseException) -> Message:
    """What went wrong with the SMTP server, and the setting that fixes it (the field "smtp" goes before it)."""
    where = _where(settings)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Message(N_("%(server)s refused the user name and password: check OSTIARY_SMTP_USER and "
                          "OSTIARY_SMTP_PASSWORD_FILE"), server=where)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        if settings.smtp_security == "starttls":
            return Message(N_("%(server)s does not offer STARTTLS: check OSTIARY_SMTP_SECURITY and OSTIARY_SMTP_PORT"),
                           server=where)
        return Message(N_("%(server)s does not offer authentication: check OSTIARY_SMTP_SECURITY and "
                          "OSTIARY_SMTP_PORT"), server=where)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return Message(N_("%(server)s refused the recipient address (%(reason)s): check the address"), server=where,
                       reason=_first_reason(exc.recipients))
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return Message(N_("%(server)s refused the sender %(sender)s (%(reason)s): check OSTIARY_SMTP_FROM"), server=where,
                       sender=exc.sender, reason=_reason(exc.smtp_error))
    if isinstance(exc, smtplib.SMTPResponseException):
        return Message(N_("%(server)s answered %(code)s %(reason)s"), server=where, code=exc.smtp_code,
                       reason=_reason(exc.smtp_error))
    if isinstance(exc, ssl.SSLError):
        return Message(N_("TLS with %(server)s failed (%(reason)s): check OSTIARY_SMTP_SECURITY "
                          "(starttls on port 587, tls on 465) and the server's certificate"), server=where,
                       reason=exc.reason or exc)
    if isinstance(exc, ConnectionRefusedError):
        return Message(N_("%(server)s refused the connection: is it running, and are OSTIARY_SMTP_HOST and "
                          "OSTIARY_SMTP_PORT right?"), server=where)
    if isinstance(exc, socket.gaierror):
        return Message(N_("the SMTP host %(host)s does not resolve: check OSTIARY_SMTP_HOST"), host=settings.smtp_host)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return Message(N_("%(server)s did not answer within %(seconds)s s: check the host, port and firewall"),
                       server=where, seconds=f"{settings.smtp_timeout:g}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Message(N_("%(server)s closed the connection: check OSTIARY_SMTP_SECURITY and OSTIARY_SMTP_PORT"),
                       server=where)
    return Message(N_("%(server)s could not be used (%(error)s)"), server=where, error=f"{exc.__class__.__name__}: {exc}")


def _reason(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]


def _first_reason(recipients: dict) -> str:
    for code, message in recipients.values():
        return f"{code} {_reason(message)}"
    return "no reason given"


class Outbox:
    """An open, authenticated SMTP connection."""

    def __init__(self, smtp: smtplib.SMTP, settings: Settings):
        self._smtp = smtp
        self._settings = settings

    def send(self, msg: EmailMessage) -> None:
        try:
            self._smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailable("smtp", explain(self._settings, exc)) from None


def _password(settings: Settings) -> str:
    # Read at every connection, so a rotated password file needs no restart.
    try:
        return settings.smtp_password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise MailUnavailable("smtp", N_("OSTIARY_SMTP_PASSWORD_FILE %(path)s cannot be read (%(error)s)"),
                              path=settings.smtp_password_file, error=getattr(exc, "strerror", None) or exc) from None


def _open(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host, settings.effective_smtp_port, settings.smtp_timeout
    context = ssl.create_default_context()
    if settings.smtp_security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo()
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)  # refuses a server that does not offer it
            smtp.ehlo()
        if settings.smtp_user:
            try:
                smtp.login(settings.smtp_user, _password(settings))
            except smtplib.SMTPServerDisconnected:
                # Some servers hang up after refused credentials instead of answering 535.
                raise smtplib.SMTPAuthenticationError(535, b"closed the connection during login") from None
    except BaseException:
        smtp.close()
        raise
    return smtp


@contextmanager
def connect(settings: Settings) -> Iterator[Outbox]:
    """An authenticated connection for sending, closed afterwards. MailNotConfigured
    when email is off; MailUnavailable, naming the setting to check, when the
    server cannot be used."""
    if not settings.email_enabled:
        raise MailNotConfigured("smtp", NOT_CONFIGURED)
    try:
        smtp = _open(settings)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailUnavailable("smtp", explain(settings, exc)) from None
    try:
        yield Outbox(smtp, settings)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def send(settings: Settings, msg: EmailMessage) -> None:
    with connect(settings) as outbox:
        outbox.send(msg)


def check_connection(settings: Settings) -> Finding:
    """For `ostiary doctor`: can Ostiary connect, secure and sign in to its SMTP server?"""
    if not settings.email_enabled:
        return Finding("smtp-connects", True, INFO,
                       "email is not configured: invitations, password resets and email changes are off",
                       "set OSTIARY_SMTP_HOST and OSTIARY_SMTP_FROM (docs/email.md)")
    try:
        with connect(settings) as outbox:
            outbox._smtp.noop()
    except MailUnavailable as exc:
        message, _, fix = str(exc).removeprefix("smtp: ").partition(": ")
        return Finding("smtp-connects", False, ERROR, message, fix or "see docs/email.md")
    except (smtplib.SMTPException, OSError) as exc:
        return Finding("smtp-connects", False, ERROR, explain(settings, exc), "see docs/email.md")
    security = {"starttls": "STARTTLS", "tls": "implicit TLS", "none": "no TLS"}[settings.smtp_security]
    signed = f", signed in as {settings.smtp_user}" if settings.smtp_user else ""
    return Finding("smtp-connects", True, OK, f"{_where(settings)} accepts a connection ({security}{signed})")
