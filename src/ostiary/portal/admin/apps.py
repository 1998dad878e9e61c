"""Proxy apps: create, edit, enable/disable, grants, and the proxy snippets."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.portal.admin.guard import (
    AdminContext, admin_action, admin_page, checked, lines, problems, sorted_listing_args,
)
from ostiary.portal.i18n import gettext as _
from ostiary.proxies import KINDS
from ostiary.services.queries import pages as admin_views
from ostiary.services.rules import apps
from ostiary.services.base.errors import ServiceError
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.wire import IDENTITY_HEADER_KEYS, IDENTITY_HEADERS


@admin_page
async def app_list(ctx: AdminContext) -> Response:
    return await _list(ctx)


async def _list(ctx: AdminContext, status: int = 200, errors=(), form=None) -> Response:
    args = sorted_listing_args(ctx.request) if status == 200 else {}
    page = await ctx.call(admin_views.apps_page, ctx.inst.store, ctx.tenant.id, **args)
    names = await ctx.call(admin_views.pickers, ctx.inst.store, ctx.tenant.id)
    return ctx.page("admin/apps.html", status=status, page=page, q=ctx.request.query_params.get("q", ""),
                    errors=list(errors), form=form or {"headers": list(IDENTITY_HEADER_KEYS)},
                    header_names=IDENTITY_HEADERS, names=names)


@admin_action
async def app_add(ctx: AdminContext, form) -> Response:
    values = {
        "name": str(form.get("name", "")), "url": str(form.get("url", "")),
        "public_paths": lines(form.get("public_paths")), "headers": form.getlist("headers") or ["none"],
        "all_users": checked(form, "all_users"), "groups_granted": lines(form.get("groups")),
        "require_2fa": checked(form, "require_2fa"),
    }
    try:
        row = await ctx.call(apps.add_app, ctx.inst.store, ctx.tenant.id, ctx.actor, allow_http=ctx.inst.settings.dev,
                             **values)
    except ServiceError as exc:
        shown = {**values, "public_paths": "\n".join(values["public_paths"]), "groups": ", ".join(values["groups_granted"])}
        return await _list(ctx, 422, problems(exc), shown)
    return ctx.back(f"/admin/apps/{row.id}", _("App %(name)s created. Copy a snippet below into your proxy.") % {"name": row.name})


@admin_page
async def app_detail(ctx: AdminContext) -> Response:
    return await _detail(ctx)


async def _detail(ctx: AdminContext, status: int = 200, errors=(), form=None) -> Response:
    summary = await ctx.call(admin_views.app_summary, ctx.inst.store, ctx.tenant.id,
                             int(ctx.request.path_params["app_id"]))
    # One proxy's snippet at a time, chosen by ?proxy= (links, no script): the page stays short.
    chosen = next((k for k in KINDS if k.name == ctx.request.query_params.get("proxy")), KINDS[0])
    text = await ctx.call(snippet_for_app, ctx.inst.store, ctx.inst.settings, ctx.tenant.id, summary.app.name,
                          chosen.name)
    names = await ctx.call(admin_views.pickers, ctx.inst.store, ctx.tenant.id)
    form = form or {"url": summary.app.url, "public_paths": "\n".join(summary.public_paths),
                    "headers": summary.header_keys, "all_users": summary.app.all_users,
                    "require_2fa": summary.app.require_2fa}
    return ctx.page("admin/app.html", status=status, s=summary, a=summary.app, errors=list(errors), form=form,
                    header_names=IDENTITY_HEADERS, proxies=[(k.name, k.label) for k in KINDS],
                    snippet=(chosen.name, chosen.label, text), names=names)


@admin_action
async def app_edit(ctx: AdminContext, form) -> Response:
    summary = await ctx.call(admin_views.app_summary, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["app_id"]))
    values = {"url": str(form.get("url", "")), "public_paths": lines(form.get("public_paths")),
              "headers": form.getlist("headers") or ["none"], "all_users": checked(form, "all_users"),
              "require_2fa": checked(form, "require_2fa")}
    try:
        await ctx.call(apps.update_app, ctx.inst.store, ctx.tenant.id, ctx.actor, summary.app.name,
                       allow_http=ctx.inst.settings.dev, **values)
    except ServiceError as exc:
        return await _detail(ctx, 422, problems(exc), {**values, "public_paths": "\n".join(values["public_paths"])})
    return ctx.back(f"/admin/apps/{summary.app.id}", "Saved.")


@admin_action
async def app_enabled(ctx: AdminContext, form) -> Response:
    summary = await ctx.call(admin_views.app_summary, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["app_id"]))
    enable = form.get("enabled") == "1"
    await ctx.call(apps.update_app, ctx.inst.store, ctx.tenant.id, ctx.actor, summary.app.name, enabled=enable)
    return ctx.back(f"/admin/apps/{summary.app.id}", _("App enabled.") if enable else _("App disabled: /check now answers 403 for it."))


@admin_action
async def app_grant(ctx: AdminContext, form) -> Response:
    summary = await ctx.call(admin_views.app_summary, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["app_id"]))
    group = str(form.get("group", ""))
    remove = form.get("remove") == "1"
    try:
        await ctx.call(apps.revoke if remove else apps.grant, ctx.inst.store, ctx.tenant.id, ctx.actor,
                       summary.app.name, group)
    except ServiceError as exc:
        return await _detail(ctx, 422, problems(exc))
    said = {"group": group, "app": summary.app.name}
    notice = (_("Group %(group)s no longer grants %(app)s.") if remove else _("Group %(group)s may now enter %(app)s.")) % said
    return ctx.back(f"/admin/apps/{summary.app.id}", notice)


@admin_action
async def app_delete(ctx: AdminContext, form) -> Response:
    summary = await ctx.call(admin_views.app_summary, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["app_id"]))
    await ctx.call(apps.delete_app, ctx.inst.store, ctx.tenant.id, ctx.actor, summary.app.name)
    return ctx.back("/admin/apps", _("App %(name)s deleted.") % {"name": summary.app.name})
