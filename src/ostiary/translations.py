"""The core of the one translation layer (docs/translations.md): the shipped
catalogs, the choice of a language from Accept-Language, and `Message`, the
template-and-parameters form of what the layers below the pages say (the
services' refusals), which reads as English and which a page translates.

Below both the portal and the gate: the portal's request-bound parts
(ostiary/portal/i18n.py: the person's saved choice, the current language of
a request, the Jinja2 callables) build on it, and the gate's 403 page
(ostiary/gate/refusal_page.py) looks its catalog up here without importing
the portal. The catalogs are the `.po` files under
`ostiary/portal/translations/`, read with Babel once per process, the first
time one is needed, and compiled in memory (no build step); entries marked
fuzzy are left out, so the English text shows instead of a guess. `N_`
marks text for the catalogs wherever it is defined.
"""

from __future__ import annotations

import functools
import io
import re
from gettext import NullTranslations
from pathlib import Path


# --- messages: a template and its named parameters -------------------------------------------------
# What the layers below the pages say (the services' refusals, urlrules' and dns' reasons) is English
# wherever it is used as text, and a page translates it (ostiary/portal/problem_text.py).


def N_(message: str) -> str:
    """Marks text for the catalog where it is defined (`./scripts/translations` finds it): a message template, or
    words a page shows (the audit log's, an email's subject); translated with `gettext` where it is shown."""
    return message


class Message(str):
    """English text made of a template and its named parameters, keeping both.

    `Message(N_('no group "%(name)s"'), name=name)` is the string
    `no group "staff"`; a page translates the template and then puts the
    parameters in (a parameter that is itself a Message is translated too).
    Without parameters the template is the text as it is (no `%` formatting)."""

    template: str
    params: dict
    plural: str | None = None  # with `counted`: the template for a count other than one (params["n"])

    def __new__(cls, template: str, /, **params) -> Message:
        text = str.__new__(cls, template % params if params else template)
        text.template = str(template)
        text.params = params
        return text


def counted(singular: str, plural: str, n: int, /, **params) -> Message:
    """A message that depends on a count `n` (`%(n)d` in it): `counted("%(n)d membership", "%(n)d memberships", 2)`.
    `./scripts/translations` extracts both forms; a page picks its language's plural form."""
    params = {"n": n, **params}
    text = Message(singular if n == 1 else plural, **params)
    text.template, text.plural = singular, plural
    return text


TRANSLATIONS = Path(__file__).parent / "portal" / "translations"
DEFAULT = "en"
DOMAIN = "messages"


@functools.cache
def catalogs() -> dict[str, NullTranslations]:
    """Every shipped language's catalog by its code, English (the text itself) first; read once."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

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
    from babel import negotiate_locale

    shipped = catalogs()
    wanted = [DEFAULT if tag == "*" else tag for tag in preferred(header)]
    found = negotiate_locale(wanted, list(shipped), sep="-") or DEFAULT
    # Babel answers in the spelling the browser used ("DE"): the catalog's own code.
    return {code.lower(): code for code in shipped}.get(found.lower(), DEFAULT)


def for_header(header: str | None) -> tuple[str, NullTranslations]:
    """The language an Accept-Language header gets and its catalog (for pages no person's choice reaches)."""
    language = negotiate(header)
    return language, catalogs()[language]
