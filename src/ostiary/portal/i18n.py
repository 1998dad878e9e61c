"""The one translation layer every page's text goes through (docs/translations.md).

The language of a request is the signed-in person's saved choice, else the
best match of the browser's Accept-Language among the shipped languages
(Babel's negotiation), else English. `LanguageMiddleware` decides it once per
request and keeps it in a ContextVar; templates (Jinja2's i18n extension,
installed in ostiary.portal.context) and Python code (`gettext`, or
`lazy_gettext` for text defined at import time) read it from there.

The catalogs are the `.po` files under `translations/`, read with Babel at
start-up and compiled in memory (no build step: `pip install` is enough);
entries marked fuzzy are left out, so the English text shows instead of a
guess.
"""

from __future__ import annotations

import io
import re
from contextvars import ContextVar
from gettext import NullTranslations
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, Translations
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ostiary.services.base.availability import DATABASE_UNREACHABLE

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = "en"
DOMAIN = "messages"


def _load() -> dict[str, NullTranslations]:
    found: dict[str, NullTranslations] = {DEFAULT: NullTranslations()}
    for po in sorted(TRANSLATIONS.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = po.parent.parent.name
        with po.open("rb") as f:
            catalog = read_po(f, locale=language, domain=DOMAIN)
        compiled = io.BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        found[language] = Translations(compiled, domain=DOMAIN)
    return found


CATALOGS = _load()
# Shipped languages, each named in itself ("Deutsch"), English first.
LANGUAGES: dict[str, str] = {
    code: Locale.parse(code).get_display_name(code).capitalize()
    for code in sorted(CATALOGS, key=lambda c: (c != DEFAULT, c))
}

_language: ContextVar[str] = ContextVar("ostiary_language", default=DEFAULT)


def current() -> str:
    """The language of the page being made ("en", "de")."""
    return _language.get()


def use(language: str | None):
    """Makes `language` (when shipped, else English) the current one; returns the token to reset it."""
    return _language.set(language if language in CATALOGS else DEFAULT)


def gettext(message: str) -> str:
    return CATALOGS[_language.get()].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return CATALOGS[_language.get()].ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return CATALOGS[_language.get()].pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return CATALOGS[_language.get()].npgettext(context, singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Marks text for the catalog where it is defined; it is translated with `gettext` where it is used."""
    return message


def lazy_gettext(message: str) -> LazyProxy:
    """For text defined at import time: translated each time it is used, in the language of that request."""
    return LazyProxy(gettext, message, enable_cache=False)


# Accept-Language: at most this much of the header is read, and this many ranges.
MAX_HEADER = 1000
MAX_RANGES = 30
_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?))?\s*$")


def preferred(header: str | None) -> list[str]:
    """The language ranges of an Accept-Language header, most wanted first
    (ties keep their order); ranges with q=0 and malformed ones are dropped."""
    ranges = []
    for position, part in enumerate((header or "")[:MAX_HEADER].split(",")[:MAX_RANGES]):
        found = _RANGE.match(part)
        if not found:
            continue
        q = float(found.group(2)) if found.group(2) else 1.0
        if q > 0:
            ranges.append((-q, position, found.group(1)))
    return [tag for _q, _p, tag in sorted(ranges)]


def negotiate(header: str | None) -> str:
    """The shipped language that best matches an Accept-Language header; English when none does."""
    wanted = [DEFAULT if tag == "*" else tag for tag in preferred(header)]
    found = negotiate_locale(wanted, list(CATALOGS), sep="-") or DEFAULT
    # Babel answers in the spelling the browser used ("DE"): the catalog's own code.
    return {code.lower(): code for code in CATALOGS}.get(found.lower(), DEFAULT)


# Paths whose answers are never pages: no need to look up anyone's language.
_NOT_PAGES = ("/static/", "/api/", "/healthz", "/readyz", "/metrics", "/favicon.ico", "/.well-known/",
              "/oidc/token", "/oidc/jwks", "/oidc/userinfo", "/oidc/revoke", "/oidc/introspect")


class LanguageMiddleware:
    """Decides each request's language before its page is made: the saved
    choice of the person whose session cookie it carries (on a tenant host,
    where that session lives), else Accept-Language."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        language = None
        if not scope["path"].startswith(_NOT_PAGES):
            language = await _saved_language(request)
        token = use(language or negotiate(request.headers.get("accept-language")))
        try:
            await self.app(scope, receive, send)
        finally:
            _language.reset(token)


async def _saved_language(request: Request) -> str | None:
    from ostiary.portal.context import instance, tenant_for
    from ostiary.services.rules import languages

    inst = instance(request)
    cookie = request.cookies.get(inst.session_cookie)
    if not cookie:
        return None
    tenant = tenant_for(request)
    if tenant is None:
        return None
    try:
        saved = await run_in_threadpool(languages.language_for_session, inst.store, cookie, tenant.id)
    except DATABASE_UNREACHABLE:
        # The page itself says the database is unreachable (ostiary.portal.unavailable), in the browser's language.
        return None
    return saved if saved in CATALOGS else None
