"""What a portal page says when the database cannot be reached: a 503 that
names the problem, never a 2xx and never a stack trace. The gate is not
affected: it answers from its snapshot."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from ostiary.portal.rendering import error_page
from ostiary.services.base.availability import DATABASE_UNREACHABLE

log = logging.getLogger("ostiary.portal")

RETRY_AFTER_SECONDS = "30"


def log_unreachable(request: Request, exc: Exception) -> None:
    log.warning("portal request %s %s failed, database unreachable: %s", request.method, request.url.path,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


async def database_unreachable(request: Request, exc: Exception) -> Response:
    log_unreachable(request, exc)
    signing_out = "sign-out" in request.url.path
    title = "Signing out is unavailable right now" if signing_out else "Sign-in is unavailable right now"
    message = (
        "Ostiary cannot reach its database at the moment. People who are already signed in keep "
        "working; please try again in a minute."
    )
    response = error_page(request, 503, title, message)
    response.headers["retry-after"] = RETRY_AFTER_SECONDS
    return response


EXCEPTION_HANDLERS = {kind: database_unreachable for kind in DATABASE_UNREACHABLE}
