"""The one translation layer every page's text goes through (docs/translations.md).

The language of a request is the signed-in person's saved choice, else the
best match of the browser's Accept-Language among the shipped languages
(Babel's negotiation), else English. `LanguageMiddleware` decides it once per
request and keeps it in a ContextVar; templates (Jinja2's i18n extension,
installed in ostiary.portal.rendering) and Python code (`gettext`, or
`lazy_gettext` for text defined at import time) read it from there.

The catalogs and the negotiation of Accept-Language are ostiary/translations.py's
(below the portal, so the gate's 403 page shares them): the `.po` files under
`translations/`, read with Babel and compiled in memory (no build step: `pip
install` is enough); entries marked fuzzy are left out, so the English text
shows instead of a guess.
"""

from __future__ import annotations

from contextvars import ContextVar

from babel import Locale
from babel.support import LazyProxy
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ostiary import translations
from ostiary.portal.instance import instance, tenant_for
from ostiary.services.base.availability import DATABASE_UNREACHABLE
from ostiary.translations import (  # noqa: F401 (the portal's names for them)
    DEFAULT, DOMAIN, MAX_HEADER, MAX_RANGES, TRANSLATIONS, negotiate, preferred,
)

# The catalogs and Accept-Language negotiation live below the portal (ostiary/translations.py), shared with the gate.
CATALOGS = translations.catalogs()
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
