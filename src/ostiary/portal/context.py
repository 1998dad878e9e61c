"""What every portal endpoint needs: the running instance, which kind of
host a request came to, the client's address, CSRF, cookies, pages."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ostiary.config import Settings
from ostiary.hostnames import split_host_port
from ostiary.portal import i18n
from ostiary.portal.i18n import gettext as _
from ostiary.portal.problem_text import field_text, message_text
from ostiary.portal.user_agents import describe as describe_user_agent
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.snapshot.model import DomainView, TenantView
from ostiary.store import Store
from ostiary.wire import CSRF_COOKIE, CSRF_COOKIE_DEV, SESSION_COOKIE, SESSION_COOKIE_DEV

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


@dataclass
class Instance:
    """The running Ostiary a portal request is served by."""

    settings: Settings
    store: Store
    holder: SnapshotHolder

    @property
    def session_cookie(self) -> str:
        return SESSION_COOKIE_DEV if self.settings.dev else SESSION_COOKIE

    @property
    def csrf_cookie(self) -> str:
        return CSRF_COOKIE_DEV if self.settings.dev else CSRF_COOKIE


def instance(request: Request) -> Instance:
    return request.app.state.instance


def request_host(request: Request) -> str | None:
    hp = split_host_port(request.headers.get("host", ""))
    return hp[0] if hp else None


def tenant_for(request: Request) -> TenantView | None:
    return instance(request).holder.snapshot.tenant_hosts.get(request_host(request) or "")


def portal_domain_for(request: Request) -> DomainView | None:
    return instance(request).holder.snapshot.portal_hosts.get(request_host(request) or "")


def client_address(request: Request) -> str:
    """The peer's address; behind trusted proxies, the first untrusted hop of
    X-Forwarded-For read right to left."""
    peer = request.client.host if request.client else ""
    trusted = instance(request).settings.trusted_proxies  # parsed once, when the settings load
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _in(addr: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def cookie_flags(inst: Instance) -> dict:
    return {"secure": not inst.settings.dev, "httponly": True, "samesite": "lax", "path": "/"}


def csrf_token(request: Request) -> str:
    """Double-submit token: the same random value in a host-only cookie and
    in every form; set on the response by `render`."""
    token = request.cookies.get(instance(request).csrf_cookie)
    if not token or len(token) != 43:
        token = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(32))
    return token


def csrf_ok(request: Request, form_value: str | None) -> bool:
    cookie = request.cookies.get(instance(request).csrf_cookie)
    if not cookie or not form_value or not hmac.compare_digest(cookie, form_value):
        return False
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        expected = instance(request).settings.public_url(request_host(request) or "", "").rstrip("/")
        if origin != expected:
            return False
    elif origin == "null":
        return False
    return True


def render(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
    inst = instance(request)
    values.setdefault("csrf", csrf_token(request))
    body = TEMPLATES.get_template(template).render(request=request, **values)
    response = HTMLResponse(body, status_code=status)
    new = request.state.__dict__.get("new_csrf")
    if new:
        response.set_cookie(inst.csrf_cookie, new, max_age=12 * 3600, **cookie_flags(inst))
    return response


def error_page(request: Request, status: int, title: str, message: str, **values) -> Response:
    """A refusal as a page in the portal's layout, with a way back: `back`
    as (href, text) when given, else this tenant's start page."""
    values.setdefault("tenant", tenant_for(request))
    return render(request, "error.html", status=status, title=title, message=message, **values)


def unknown_host(request: Request, portal: bool = False) -> Response:
    """The one page for a host Ostiary does not serve (no tenant, or no verified portal domain)."""
    host = request_host(request)
    if portal:
        message = (_("%(host)s is not a verified Ostiary portal host.") % {"host": host} if host
                   else _("This host is not a verified Ostiary portal host."))
    else:
        message = (_("%(host)s is not an Ostiary tenant host.") % {"host": host} if host
                   else _("This host is not an Ostiary tenant host."))
    return error_page(request, 404, _("Unknown host"), message, unknown_host=True)
