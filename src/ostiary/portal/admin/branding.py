"""/admin/branding: the organisation's display name, accent colour, who to
ask, and its logo (docs/admin.md, "Branding"). The rules are the service's
(services/rules/branding.py), the same as `ostiary tenant branding` and the API."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from ostiary.portal.admin.guard import AdminContext, admin_action, admin_page, problems
from ostiary.portal.i18n import N_, gettext as _
from ostiary.services.rules import branding
from ostiary.services.base.errors import Problem, ServiceError


async def _show(ctx: AdminContext, status: int = 200, errors=(), values: dict | None = None) -> Response:
    current = await ctx.call(branding.get_branding, ctx.inst.store, ctx.tenant.id)
    return ctx.page("admin/branding.html", status=status, branding=current, errors=list(errors),
                    values=values or {}, max_kib=branding.MAX_LOGO_BYTES // 1024, max_px=branding.MAX_LOGO_PIXELS)


@admin_page
async def branding_page(ctx: AdminContext) -> Response:
    return await _show(ctx)


@admin_action
async def branding_save(ctx: AdminContext, form) -> Response:
    values = {k: str(form.get(k, "")) for k in ("display_name", "accent_colour", "contact")}
    try:
        await ctx.call(branding.set_branding, ctx.inst.store, ctx.tenant.id, ctx.actor, **values)
    except ServiceError as exc:
        return await _show(ctx, 422, problems(exc), values)
    return ctx.back("/admin/branding", _("Branding saved: pages show it within a second."))


@admin_action
async def logo_upload(ctx: AdminContext, form) -> Response:
    if form.get("remove"):
        await ctx.call(branding.remove_logo, ctx.inst.store, ctx.tenant.id, ctx.actor)
        return ctx.back("/admin/branding", _("Logo removed."))
    upload = form.get("logo")
    if not isinstance(upload, UploadFile):
        return await _show(ctx, 422, [Problem("logo", N_("choose an image file to upload"))])
    data = await upload.read(branding.MAX_LOGO_BYTES + 1)
    try:
        await ctx.call(branding.set_logo, ctx.inst.store, ctx.tenant.id, ctx.actor, data)
    except ServiceError as exc:
        return await _show(ctx, 422, problems(exc))
    return ctx.back("/admin/branding", _("Logo uploaded."))


routes = [
    Route("/admin/branding", branding_page, methods=["GET"]),
    Route("/admin/branding", branding_save, methods=["POST"]),
    Route("/admin/branding/logo", logo_upload, methods=["POST"]),
]
