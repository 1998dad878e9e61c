"""OIDC clients: create (the secret shown on the answer page, once), edit,
enable/disable, grants, rotate the secret, delete (docs/oidc-provider.md)."""

from __future__ import annotations

import json

from starlette.responses import Response

from ostiary.issuer import clients
from ostiary.portal.admin.guard import AdminContext, admin_action, admin_page, checked, lines, problems
from ostiary.portal.i18n import gettext as _
from ostiary.services.base.errors import ServiceError


def _issuer(ctx: AdminContext) -> str:
    return ctx.inst.settings.public_url(ctx.tenant.host, "").rstrip("/")


@admin_page
async def client_list(ctx: AdminContext) -> Response:
    return await _list(ctx)


async def _list(ctx: AdminContext, status: int = 200, errors=(), form=None) -> Response:
    rows = await ctx.call(clients.list_clients, ctx.inst.store, ctx.tenant.id)
    grants = {r.id: await ctx.call(clients.grant_names, ctx.inst.store, ctx.tenant.id, r.id) for r in rows}
    return ctx.page("admin/oidc_clients.html", status=status, rows=rows, grants=grants, errors=list(errors),
                    form=form or {"scopes": " ".join(clients.DEFAULT_SCOPES)}, issuer=_issuer(ctx),
                    scopes=clients.SCOPES)


@admin_action
async def client_add(ctx: AdminContext, form) -> Response:
    values = dict(redirect_uris=lines(form.get("redirect_uris")),
                  post_logout_redirect_uris=lines(form.get("post_logout_redirect_uris")),
                  backchannel_logout_uri=str(form.get("backchannel_logout_uri", "")).strip() or None,
                  scopes=" ".join(form.getlist("scopes")), public=checked(form, "public"),
                  all_users=checked(form, "all_users"), groups=[g.strip() for g in str(form.get("groups", "")).split(",")
                                                               if g.strip()],
                  require_2fa=checked(form, "require_2fa"), skip_consent=checked(form, "skip_consent"))
    name = str(form.get("name", ""))
    try:
        new = await ctx.call(clients.add_client, ctx.inst.store, ctx.tenant.id, ctx.actor, name,
                             clients.ClientSettings(**values), allow_http=ctx.inst.settings.dev)
    except ServiceError as exc:
        shown = {**values, "name": name, "redirect_uris": "\n".join(values["redirect_uris"]),
                 "post_logout_redirect_uris": "\n".join(values["post_logout_redirect_uris"]),
                 "groups": ", ".join(values["groups"])}
        return await _list(ctx, 422, problems(exc), shown)
    # The secret is on this answer only: never in a redirect's URL, never again.
    return await _detail(ctx, new.row.id, secret=new.secret or "", notice=_("Client %(name)s created.") % {"name": new.row.name})


@admin_page
async def client_detail(ctx: AdminContext) -> Response:
    return await _detail(ctx, int(ctx.request.path_params["client_pk"]))


async def _detail(ctx: AdminContext, client_pk: int, status: int = 200, errors=(), secret: str = "",
                  notice: str = "") -> Response:
    row = await ctx.call(clients.get_client_by_id, ctx.inst.store, ctx.tenant.id, client_pk)
    granted = await ctx.call(clients.grant_names, ctx.inst.store, ctx.tenant.id, row.id)
    values = {"notice": notice} if notice else {}
    return ctx.page("admin/oidc_client.html", status=status, c=row, granted=granted, errors=list(errors),
                    secret=secret, issuer=_issuer(ctx), redirect_uris=json.loads(row.redirect_uris),
                    post_logout=json.loads(row.post_logout_redirect_uris), **values)


async def _row(ctx: AdminContext):
    return await ctx.call(clients.get_client_by_id, ctx.inst.store, ctx.tenant.id,
                          int(ctx.request.path_params["client_pk"]))


@admin_action
async def client_edit(ctx: AdminContext, form) -> Response:
    row = await _row(ctx)
    values = dict(redirect_uris=lines(form.get("redirect_uris")),
                  post_logout_redirect_uris=lines(form.get("post_logout_redirect_uris")),
                  backchannel_logout_uri=str(form.get("backchannel_logout_uri", "")).strip(),
                  all_users=checked(form, "all_users"), require_2fa=checked(form, "require_2fa"),
                  skip_consent=checked(form, "skip_consent"), enabled=checked(form, "enabled"))
    try:
        await ctx.call(clients.update_client, ctx.inst.store, ctx.tenant.id, ctx.actor, row.name,
                       allow_http=ctx.inst.settings.dev, **values)
    except ServiceError as exc:
        return await _detail(ctx, row.id, 422, problems(exc))
    return ctx.back(f"/admin/oidc-clients/{row.id}", "Saved.")


@admin_action
async def client_grant(ctx: AdminContext, form) -> Response:
    row = await _row(ctx)
    group, remove = str(form.get("group", "")), form.get("remove") == "1"
    try:
        await ctx.call(clients.revoke if remove else clients.grant, ctx.inst.store, ctx.tenant.id, ctx.actor,
                       row.name, group)
    except ServiceError as exc:
        return await _detail(ctx, row.id, 422, problems(exc))
    return ctx.back(f"/admin/oidc-clients/{row.id}",
                    (_("Group %(group)s may no longer use %(client)s.") if remove else _("Group %(group)s may use %(client)s."))
                    % {"group": group, "client": row.name})


@admin_action
async def client_rotate_secret(ctx: AdminContext, form) -> Response:
    row = await _row(ctx)
    try:
        secret = await ctx.call(clients.rotate_secret, ctx.inst.store, ctx.tenant.id, ctx.actor, row.name)
    except ServiceError as exc:
        return await _detail(ctx, row.id, 422, problems(exc))
    return await _detail(ctx, row.id, secret=secret, notice=_("New secret made: the old one no longer works."))


@admin_action
async def client_delete(ctx: AdminContext, form) -> Response:
    row = await _row(ctx)
    await ctx.call(clients.delete_client, ctx.inst.store, ctx.tenant.id, ctx.actor, row.name)
    return ctx.back("/admin/oidc-clients", _("Client %(name)s deleted; its tokens no longer work.") % {"name": row.name})
