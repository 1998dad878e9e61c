"""Who may use the admin pages, and what every admin handler needs: the
tenant, the admin (as an audit Actor), CSRF-checked forms, service calls
off the event loop, and refusals turned into field-named problems."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ostiary.portal import notices
from ostiary.portal.client_address import client_address
from ostiary.portal.instance import Instance
from ostiary.portal.pages import checked_form, signed_in
from ostiary.portal.rendering import error_page, render
from ostiary.portal.admin.web_wording import for_the_web, web_refusal
from ostiary.portal.problem_text import message_text
from ostiary.portal.i18n import gettext as _
from ostiary.services.queries import pages as admin_views
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import NotFound, Problem, ServiceError, problems_of
from ostiary.services.base.listing import Page
from ostiary.snapshot.model import TenantView


@dataclass(frozen=True)
class AdminContext:
    request: Request
    inst: Instance
    tenant: TenantView
    user: Any  # the admin's users row
    actor: Actor

    async def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """A service call, in a worker thread (services block on the database)."""
        return await run_in_threadpool(fn, *args, **kwargs)

    def page(self, template: str, status: int = 200, **values: Any) -> Response:
        values.setdefault("notice", notices.pending_notice(self.request))
        values.setdefault("section", template.split("/")[-1][:-5])
        response = render(self.request, template, status=status, tenant=self.tenant, me=self.user, when=when,
                          link=functools.partial(page_link, self.request),
                          sort_link=functools.partial(sort_link, self.request), **values)
        return notices.shown(self.request, response)

    def back(self, path: str, notice: str | None = None) -> Response:
        """A 303 to `path` after a change; the page there shows `notice` once (a signed cookie, never the URL)."""
        return notices.redirect_with_notice(self.request, path, notice)


Handler = Callable[[AdminContext], Awaitable[Response]]


async def admin_context(request: Request) -> AdminContext | Response:
    """The signed-in administrator of this tenant host (portal/pages.py's `signed_in`), or the answer to send."""
    me = await signed_in(request, request.url.path)
    if isinstance(me, Response):
        return me
    user = await run_in_threadpool(admin_views.user_by_id, me.inst.store, me.tenant.id, me.session.user_id)
    if not user.is_admin:
        return error_page(request, 403, _("Administrators only"),
                          _("Your account may not use the admin pages. Ask an administrator of this organisation."),
                          tenant=me.tenant)
    actor = Actor(user.email, client_address(request), user.id)
    return AdminContext(request, me.inst, me.tenant, user, actor)


def admin_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """GET pages: admins only; a NotFound from a service is a 404 page."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        ctx = await admin_context(request)
        if isinstance(ctx, Response):
            return ctx
        try:
            return await handler(ctx)
        except NotFound as exc:
            return error_page(request, 404, _("Not found"), message_text(web_refusal(exc)), tenant=ctx.tenant)

    return endpoint


def admin_action(handler: Callable[[AdminContext, Any], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """POST forms: admins only, with a valid CSRF token; the handler gets the form."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        ctx = await admin_context(request)
        if isinstance(ctx, Response):
            return ctx
        form = await checked_form(request, _("This form expired or came from another site. Go back, reload the page "
                                             "and try again."), tenant=ctx.tenant)
        if isinstance(form, Response):
            return form
        try:
            return await handler(ctx, form)
        except NotFound as exc:
            return error_page(request, 404, _("Not found"), message_text(web_refusal(exc)), tenant=ctx.tenant)

    return endpoint


def problems(exc: ServiceError) -> list[Problem]:
    """The refusal's problems, worded for the web pages (docs/admin.md, "Errors")."""
    return [for_the_web(p) for p in problems_of(exc)]


def listing_args(request: Request) -> dict:
    """`q`, `limit` and `offset` from the query string, forgiving bad numbers."""
    q = request.query_params
    return {"search": q.get("q", "")[:200], "limit": _int(q.get("limit")), "offset": _int(q.get("offset"))}


def sorted_listing_args(request: Request) -> dict:
    """`listing_args` and `sort`: a column's key, "-" first for descending (unknown keys: the list's own order)."""
    return {**listing_args(request), "sort": request.query_params.get("sort", "")[:32]}


def sort_link(request: Request, key: str) -> str:
    """This list sorted by `key`: ascending first, descending when it already is; back to the first page."""
    params = dict(request.query_params)
    params.pop("offset", None)
    params["sort"] = f"-{key}" if params.get("sort") == key else key
    return f"{request.url.path}?{urlencode(params)}"


def sort_rows(rows: list, sort: str, keys: dict[str, Callable[[Any], Any]]) -> list:
    """A whole list (not paged in SQL) in the order `sort` asks for: a column's key, "-" first for
    descending; empty values last either way; an unknown key keeps the list's own order."""
    key = (sort or "").removeprefix("-")
    if key not in keys:
        return list(rows)
    value = keys[key]
    present = [r for r in rows if value(r) not in (None, "")]
    missing = [r for r in rows if value(r) in (None, "")]
    ordered = sorted(present, key=lambda r: (_folded(value(r))), reverse=sort.startswith("-"))
    return ordered + missing


def _folded(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def page_link(request: Request, page: Page, offset: int | None) -> str | None:
    if offset is None:
        return None
    params = dict(request.query_params)
    params.update(offset=str(offset), limit=str(page.limit))
    return f"{request.url.path}?{urlencode(params)}"


def when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def checked(form, name: str) -> bool:
    return form.get(name) in ("on", "1", "true", "yes")


def lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").replace(",", "\n").splitlines() if line.strip()]
