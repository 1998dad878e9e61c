"""The FastAPI application mounted at /api/v1: errors as JSON that name
the field, and the routers for each kind of thing an admin manages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ostiary.portal.api import routes
from ostiary.portal.api.addressing import SegmentsFromRawPath
from ostiary.portal.api.auth import ApiRefusal
from ostiary.portal.unavailable import RETRY_AFTER_SECONDS, log_unreachable
from ostiary.services.base.availability import DATABASE_UNREACHABLE
from ostiary.services.base.errors import (Conflict, Forbidden, InvalidInput, MailUnavailable, NotFound, ServiceError,
                                     problems_of)

DESCRIPTION = """Everything the admin pages do, for scripts. Authenticate with a bearer API
token an admin creates at `/admin/tokens` (`Authorization: Bearer ost_...`).
A `read` token may call every GET; a `write` token may call everything.
Lists take `limit` (1-500, default 50), `offset` (0-1000000000) and often `q`, and answer
`{"items": [...], "total": N, "limit": L, "offset": O}`. Refusals answer
`{"error": "...", "message": "...", "problems": [{"field": ..., "message": ...}]}`.
Every change is written to the audit log with the token as the actor."""


def _error(status: int, error: str, message: str = "", problems=(), headers=None) -> JSONResponse:
    body = {"error": error, "message": message,
            "problems": [{"field": p.field, "message": p.message} for p in problems]}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def build_api(inst) -> SegmentsFromRawPath:
    api = FastAPI(title="Ostiary API", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json")
    api.state.instance = inst
    for router in routes.ROUTERS:
        api.include_router(router)

    @api.exception_handler(ApiRefusal)
    async def refused(_request: Request, exc: ApiRefusal):
        headers = {"WWW-Authenticate": 'Bearer realm="ostiary"'} if exc.status == 401 else None
        return _error(exc.status, exc.error, exc.message, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError):
        from ostiary.services.base.errors import Problem

        problems = [Problem(_field(e.get("loc", ())), e.get("msg", "is not valid")) for e in exc.errors()]
        return _error(422, "invalid_input", "; ".join(str(p) for p in problems), problems)

    @api.exception_handler(ServiceError)
    async def service_refused(_request: Request, exc: ServiceError):
        status, error = {InvalidInput: (422, "invalid_input"), NotFound: (404, "not_found"),
                         Conflict: (409, "conflict"), Forbidden: (403, "forbidden"),
                         MailUnavailable: (503, "email_unavailable")}.get(type(exc), (400, "refused"))
        return _error(status, error, str(exc), problems_of(exc))

    async def database_unreachable(request: Request, exc: Exception):
        # Handled here, inside the API: an exception leaving FastAPI has already
        # been answered with a 500 by its own error middleware.
        log_unreachable(request, exc)
        return _error(503, "unavailable", "Ostiary cannot reach its database at the moment: try again shortly",
                      headers={"Retry-After": RETRY_AFTER_SECONDS})

    for kind in DATABASE_UNREACHABLE:
        api.add_exception_handler(kind, database_unreachable)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error"),
                      str(exc.detail))

    return SegmentsFromRawPath(api)
