"""Sessions (who is signed in where), the audit log, signing keys and API tokens."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

from starlette.responses import Response

from ostiary.portal.admin.guard import (
    AdminContext, admin_action, admin_page, listing_args, problems, sort_rows, sorted_listing_args, when,
)
from ostiary.portal.admin import audit_export
from ostiary.portal.i18n import gettext as _, ngettext
from ostiary.services.queries import pages as admin_views, audit
from ostiary.services.rules import api_tokens, keys, sessions
from ostiary.services.base.listing import MAX_LIMIT
from ostiary.services.base.errors import ServiceError
from ostiary.services.queries.overview import tenant_overview


@admin_page
async def session_list(ctx: AdminContext) -> Response:
    page = await ctx.call(admin_views.sessions_page, ctx.inst.store, ctx.tenant.id,
                          **sorted_listing_args(ctx.request))
    return ctx.page("admin/sessions.html", page=page, q=ctx.request.query_params.get("q", ""))


@admin_action
async def session_revoke(ctx: AdminContext, form) -> Response:
    sid = ctx.request.path_params["session_id"]
    await ctx.call(sessions.get_session, ctx.inst.store, ctx.tenant.id, sid)  # NotFound for another tenant's id
    ended = await ctx.call(sessions.end_session, ctx.inst.store, ctx.tenant.id, sid, "revoked by admin", ctx.actor)
    return ctx.back("/admin/sessions", _("Session revoked: its apps refuse it within a second.") if ended
                    else _("That session had already ended."))


def _day(value: str, end: bool = False) -> float | None:
    """A YYYY-MM-DD date (UTC) as a timestamp; the day after it for an end bound."""
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return day.timestamp() + (86400 if end else 0)


def _audit_filters(ctx: AdminContext) -> dict:
    q = ctx.request.query_params
    action = q.get("action", "")[:64]
    return {"actor": q.get("actor", "")[:200], "entity": q.get("entity", "")[:32], "entity_id": q.get("entity_id", "")[:64],
            "action": action if action in audit.ACTIONS else "", "since": q.get("since", "")[:10],
            "until": q.get("until", "")[:10]}


def _audit_query(ctx: AdminContext, filters: dict, limit: int | None, offset: int | None) -> dict:
    return dict(actor=filters["actor"], entity=filters["entity"], entity_id=filters["entity_id"],
                action=filters["action"], since=_day(filters["since"]), until=_day(filters["until"], end=True),
                limit=limit, offset=offset)


@admin_page
async def audit_list(ctx: AdminContext) -> Response:
    args = listing_args(ctx.request)
    filters = _audit_filters(ctx)
    page = await ctx.call(audit.audit_page, ctx.inst.store, ctx.tenant.id,
                          **_audit_query(ctx, filters, args["limit"], args["offset"]))
    # The page's words in the page's language (the worker thread sees the request's); the CSV keeps English.
    rows = await ctx.call(audit.readable, ctx.inst.store, ctx.tenant.id, page.items, _)
    return ctx.page("admin/audit.html", page=page, rows=rows, filters=filters, entities=audit.ENTITIES,
                    actions={code: _(label) for code, label in audit.ACTIONS.items()},
                    retention=_retention(ctx.inst.settings.audit_retention_days),
                    csv_link="/admin/audit.csv?" + urlencode({k: v for k, v in filters.items() if v}))


def _retention(days: int) -> str:
    if days <= 0:
        return _("ever (OSTIARY_AUDIT_RETENTION_DAYS is 0)")
    return ngettext("%(num)d day", "%(num)d days", days) % {"num": days}


# The export holds at most this many entries (the newest that match the filters).
CSV_MAX_ROWS = 50_000


@admin_page
async def audit_csv(ctx: AdminContext) -> Response:
    filters = _audit_filters(ctx)

    def rows():
        out = []
        offset = 0
        while offset < CSV_MAX_ROWS:
            page = audit.audit_page(ctx.inst.store, ctx.tenant.id, **_audit_query(ctx, filters, MAX_LIMIT, offset))
            out += audit.readable(ctx.inst.store, ctx.tenant.id, page.items)
            if page.next_offset is None:
                break
            offset = page.next_offset
        return out

    text = audit_export.to_csv(await ctx.call(rows), when)
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="ostiary-audit-{ctx.tenant.slug}.csv"'})


@admin_page
async def key_list(ctx: AdminContext) -> Response:
    return await keys_page(ctx)


async def keys_page(ctx: AdminContext, status: int = 200, errors=(), overlap: str | None = None) -> Response:
    rows = list(reversed(await ctx.call(keys.list_keys, ctx.inst.store)))  # newest first, unless sorted
    rows = sort_rows(rows, ctx.request.query_params.get("sort", "")[:32], {
        "key": lambda k: k.id, "created": lambda k: k.created_at,
        "state": lambda k: (0, 0) if k.retire_at is None else (1, -k.retire_at)})  # signing, then verifying longest
    return ctx.page("admin/keys.html", status=status, keys=rows, errors=list(errors),
                    overlap=ctx.inst.settings.key_overlap_seconds,
                    overlap_field=str(ctx.inst.settings.key_overlap_seconds) if overlap is None else overlap)


@admin_action
async def key_rotate(ctx: AdminContext, form) -> Response:
    given = str(form.get("overlap_seconds", "")).strip()
    try:
        overlap = int(given) if given else ctx.inst.settings.key_overlap_seconds
    except ValueError:
        overlap = given  # refused below, naming the field
    try:
        kid = await ctx.call(keys.rotate_keys, ctx.inst.store, ctx.actor, overlap)
    except ServiceError as exc:
        return await keys_page(ctx, 422, problems(exc), given)
    return ctx.back("/admin/keys", _("Key %(kid)s signs in %(ahead)s s; every older key verifies for at most %(overlap)s s more "
                                     "(see each key below).") % {"kid": kid, "ahead": f"{keys.PUBLISH_AHEAD:.0f}",
                                                                 "overlap": f"{max(overlap, keys.PUBLISH_AHEAD):.0f}"})


@admin_page
async def token_list(ctx: AdminContext) -> Response:
    return await _tokens(ctx)


async def _tokens(ctx: AdminContext, status: int = 200, errors=(), form=None, new=None) -> Response:
    args = sorted_listing_args(ctx.request) if status == 200 and new is None else {}
    page = await ctx.call(api_tokens.tokens_page, ctx.inst.store, ctx.tenant.id, **args)
    return ctx.page("admin/tokens.html", status=status, page=page, q=ctx.request.query_params.get("q", ""),
                    errors=list(errors), form=form or {"scope": "read"}, new=new)


@admin_action
async def token_add(ctx: AdminContext, form) -> Response:
    name, scope, days = str(form.get("name", "")), str(form.get("scope", "")), str(form.get("expires_in_days", "")).strip()
    try:
        expires = int(days) if days else None
    except ValueError:
        expires = -1
    try:
        new = await ctx.call(api_tokens.create_token, ctx.inst.store, ctx.tenant.id, ctx.actor, name, scope, expires)
    except ServiceError as exc:
        return await _tokens(ctx, 422, problems(exc), {"name": name, "scope": scope, "expires_in_days": days})
    # Shown in this response only: the store keeps its hash.
    return await _tokens(ctx, 201, new=new)


@admin_action
async def token_revoke(ctx: AdminContext, form) -> Response:
    row = await ctx.call(api_tokens.revoke_token, ctx.inst.store, ctx.tenant.id, ctx.actor,
                         int(ctx.request.path_params["token_id"]))
    return ctx.back("/admin/tokens", _("Token %(name)s revoked.") % {"name": row.name})


@admin_page
async def overview(ctx: AdminContext) -> Response:
    state = await ctx.call(tenant_overview, ctx.inst.store, ctx.tenant.id)
    return ctx.page("admin/index.html", o=state)
