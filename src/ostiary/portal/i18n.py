"""The one translation layer every page's text goes through (docs/translations.md).

The language of a request is the signed-in person's saved choice, else the
best match of the browser's Accept-Language among the shipped languages
(Babel's negotiation), else English. `LanguageMiddleware`
(ostiary/portal/page_language.py) decides it once per request and keeps it
here, in a ContextVar (`use`); templates (Jinja2's i18n extension,
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

from ostiary import translations
from ostiary.translations import (  # noqa: F401 (the portal's names for them)
    DEFAULT, DOMAIN, MAX_HEADER, MAX_RANGES, TRANSLATIONS, N_, negotiate, preferred,
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


def reset(token) -> None:
    """Gives back the language `use` replaced (at the end of a request)."""
    _language.reset(token)


def gettext(message: str) -> str:
    return CATALOGS[_language.get()].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return CATALOGS[_language.get()].ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return CATALOGS[_language.get()].pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return CATALOGS[_language.get()].npgettext(context, singular, plural, n)


_ = gettext


def lazy_gettext(message: str) -> LazyProxy:
    """For text defined at import time: translated each time it is used, in the language of that request."""
    return LazyProxy(gettext, message, enable_cache=False)
