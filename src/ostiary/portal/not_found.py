"""What the portal answers for an address it has no page for, and for a
method a page does not take: a page in the portal's layout with a way back,
never Starlette's plain-text "Not Found"."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ostiary.portal.i18n import gettext as _
from ostiary.portal.instance import portal_domain_for, tenant_for
from ostiary.portal.pages import unknown_host
from ostiary.portal.rendering import error_page


async def not_found(request: Request, exc: Exception) -> Response:
    if tenant_for(request) is None and portal_domain_for(request) is None:
        return unknown_host(request)
    return error_page(request, 404, _("Page not found"),
                      _("There is no page at %(path)s here.") % {"path": request.url.path[:200]})


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    if tenant_for(request) is None and portal_domain_for(request) is None:
        return unknown_host(request)
    return error_page(request, 405, _("This page does not take that request"),
                      _("Open the page from a link or its form instead."))


HANDLERS = {404: not_found, 405: method_not_allowed}
