"""Pages: the portal's one Jinja environment, a page rendered with its CSRF
cookie, and a refusal as a page in the portal's layout."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ostiary.portal import i18n
from ostiary.portal.cookies import cookie_flags
from ostiary.portal.csrf import csrf_token, new_csrf_token
from ostiary.portal.instance import instance, tenant_for
from ostiary.portal.problem_text import field_text, message_text
from ostiary.portal.user_agents import describe as describe_user_agent

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)
# Every page's text through one layer (ostiary/portal/i18n.py, docs/translations.md): {% trans %} and
# _() in the request's language. New-style gettext escapes the values put into a translated string;
# trimmed {% trans %} blocks make one-line message ids (babel.cfg extracts them the same way).
TEMPLATES.policies["ext.i18n.trimmed"] = True
TEMPLATES.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True,
                                    pgettext=i18n.pgettext, npgettext=i18n.npgettext)
# <html lang="{{ page_language() }}">
TEMPLATES.globals["page_language"] = i18n.current
# The account page's language chooser: {"en": "English", "de": "Deutsch"}.
TEMPLATES.globals["page_languages"] = i18n.LANGUAGES
# A service's refusal in the page's language: {{ p.field|field_text }}: {{ p.message|message_text }}
# (ostiary/portal/problem_text.py; the CLI and the API keep the English).
TEMPLATES.filters["field_text"] = field_text
TEMPLATES.filters["message_text"] = message_text
# {{ session.user_agent|browser }}: "Chrome on Linux" (ostiary/portal/user_agents.py).
TEMPLATES.filters["browser"] = describe_user_agent


def render(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
    inst = instance(request)
    values.setdefault("csrf", csrf_token(request))
    body = TEMPLATES.get_template(template).render(request=request, **values)
    response = HTMLResponse(body, status_code=status)
    new = new_csrf_token(request)
    if new:
        response.set_cookie(inst.csrf_cookie, new, max_age=12 * 3600, **cookie_flags(inst))
    return response


def error_page(request: Request, status: int, title: str, message: str, **values) -> Response:
    """A refusal as a page in the portal's layout, with a way back: `back`
    as (href, text) when given, else this tenant's start page."""
    values.setdefault("tenant", tenant_for(request))
    return render(request, "error.html", status=status, title=title, message=message, **values)
