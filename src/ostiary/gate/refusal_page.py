"""The 403 page /forward-auth/check answers a browser that may not enter an
app (docs/contract.md §3, "The refusal page"): who the person is signed in
as, which app refused, who to ask, and a way to switch account.

Drawn from the snapshot alone (never the database), only for a refusal of a
signed-in person whose request accepts text/html; every other 403 stays the
short text. The proxy shows it on the app's own host, so the page carries
everything it needs: one inline style allowed by its hash in the page's own
CSP, no script, no image, no external asset. Everything from the snapshot
is escaped.

Its text is in the language the browser's Accept-Language asks for
(docs/translations.md): the gate knows no one's saved choice. The catalog
comes from ostiary/translations.py, read once per worker at the first
refusal; the allowed path never touches it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from html import escape
from urllib.parse import quote

from ostiary import translations
from ostiary.wire import PORTAL_SIGN_OUT_PATH

_EMAIL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+-/=?^_`{|}~@")
_STYLE_BASE = (
    ":root{color-scheme:light dark;--bg:#fff;--fg:#1b1d21;--muted:#595959;--link:#1a56b0;--accent:#1f5fbf}"
    "@media (prefers-color-scheme:dark){:root{--bg:#15171b;--fg:#e6e8eb;--muted:#b0b4ba;--link:#93b8ff;"
    "--accent:#3a73d4}}"
    "body{margin:0;background:var(--bg);color:var(--fg);font:1rem/1.5 system-ui,sans-serif}"
    "header{padding:.75rem 1rem;border-bottom:4px solid var(--accent);font-weight:700}"
    "main{max-width:40rem;padding:1rem}a{color:var(--link)}a:focus{outline:3px solid var(--accent)}"
    "p.small{color:var(--muted)}"
)


def accepts_html(headers) -> bool:
    """Whether the checked request's Accept names text/html (headers as gate/forwarded.read_headers keeps them)."""
    for name, value in headers:
        if name == b"accept" and b"text/html" in value:
            return True
    return False


def accept_language(headers) -> str | None:
    """The request's Accept-Language (headers as gate/forwarded.read_headers keeps them): read only
    to make this page."""
    for name, value in headers:
        if name == b"accept-language":
            return value.decode("latin-1")
    return None


def _is_email(text: str) -> bool:
    # The gate imports no service (tests/unit/test_layering.py): services/branding.is_email's rule, for a link.
    local, at, domain = text.partition("@")
    return bool(at and local and "." in domain and set(text) <= _EMAIL_CHARS and "@" not in domain)


def render(snap, decision, req, portal_url: Callable[[str, str], str],
           language_header: str | None = None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The page's body and its headers (content type, CSP, nosniff, Content-Language, Vary; the caller
    adds no-store), in the language `language_header` (the browser's Accept-Language) asks for."""
    language, catalog = translations.for_header(language_header)
    _ = catalog.gettext
    app, user = decision.app, decision.user
    tenant = snap.tenants.get(app.tenant_id)
    domain = snap.domains.get(app.domain_id)
    org = escape(tenant.name or tenant.slug) if tenant is not None else ""
    accent = tenant.accent_colour if tenant is not None and tenant.accent_colour else None
    style = _STYLE_BASE + (f"header{{border-bottom-color:{accent}}}" if accent else "")
    if user is not None:
        who = f"<strong>{escape(user.display_name or user.username)}</strong>"
        if user.email and user.email != user.display_name:
            who += f" ({escape(user.email)})"
        signed_in = "<p>" + _("You are signed in as %(who)s.") % {"who": who} + "</p>"
    else:
        signed_in = "<p>" + escape(_("You are signed in, but not with an account this app accepts.")) + "</p>"
    contact = tenant.contact if tenant is not None else None
    if contact and _is_email(contact):
        link = f'<a href="mailto:{escape(quote(contact, safe="@"))}">{escape(contact)}</a>'
        ask = "<p>" + _("To ask for access, write to %(contact)s.") % {"contact": link} + "</p>"
    elif contact:
        ask = "<p>" + _("To ask for access: %(contact)s.") % {"contact": escape(contact)} + "</p>"
    else:
        ask = "<p>" + (_("To ask for access, contact an administrator of %(organisation)s.") % {"organisation": org}
                       if org else escape(_("To ask for access, contact an administrator of this organisation."))) + "</p>"
    switch = ""
    if domain is not None and req.proto and req.raw_host and req.uri:
        original = f"{req.proto}://{req.raw_host}{req.uri}"
        href = portal_url(domain.portal_host, PORTAL_SIGN_OUT_PATH + "?rd=" + quote(original, safe=""))
        switch_text = escape(_("Sign out and use another account"))
        after = escape(_("After signing out you come back here and can sign in again."))
        switch = (f'<p><a href="{escape(href)}" id="switch-account">{switch_text}</a></p>'
                  f'<p class="small">{after}</p>')
    app_name = {"app": escape(app.name)}
    title = _("No access to %(app)s") % app_name
    heading = _("You may not enter %(app)s") % app_name
    not_open = _("%(app)s is not open to this account.") % app_name
    body = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{style}</style></head><body>"
        f"<header>{org or 'Ostiary'}</header>"
        f'<main id="main"><h1>{heading}</h1>{signed_in}'
        f"<p>{not_open}</p>{ask}{switch}</main></body></html>\n"
    ).encode("utf-8")
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest())
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-language", language.encode("ascii")),
        (b"vary", b"Accept-Language"),
        (b"content-security-policy", b"default-src 'none'; style-src 'sha256-" + digest
         + b"'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ]
    return body, headers
