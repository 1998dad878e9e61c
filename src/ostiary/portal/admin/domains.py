"""Protected domains: register, the TXT record to create, verify."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.dns.status import DomainStatus
from ostiary.portal.admin.guard import AdminContext, admin_action, admin_page, problems, sorted_listing_args
from ostiary.portal.admin.web_wording import web_refusal
from ostiary.portal.problem_text import message_text
from ostiary.portal.i18n import gettext as _
from ostiary.services.queries import pages as admin_views
from ostiary.services.rules import domains
from ostiary.services.base.errors import ServiceError


@admin_page
async def domain_list(ctx: AdminContext, status: int = 200, **values) -> Response:
    page = await ctx.call(admin_views.domains_page, ctx.inst.store, ctx.tenant.id,
                          **sorted_listing_args(ctx.request))
    return ctx.page("admin/domains.html", status=status, page=page, q=ctx.request.query_params.get("q", ""),
                    errors=values.get("errors", []), form=values.get("form", {}))


@admin_action
async def domain_add(ctx: AdminContext, form) -> Response:
    name, portal = str(form.get("name", "")), str(form.get("portal_host", ""))
    try:
        row = await ctx.call(domains.add_domain, ctx.inst.store, ctx.tenant.id, ctx.actor, name, portal)
    except ServiceError as exc:
        page = await ctx.call(admin_views.domains_page, ctx.inst.store, ctx.tenant.id)
        return ctx.page("admin/domains.html", status=422, page=page, q="", errors=problems(exc),
                        form={"name": name, "portal_host": portal})
    return ctx.back(f"/admin/domains/{row.name}", _("Domain registered: create the TXT record below, then verify."))


@admin_page
async def domain_detail(ctx: AdminContext) -> Response:
    row = await ctx.call(domains.get_domain, ctx.inst.store, ctx.tenant.id, ctx.request.path_params["name"])
    record_name, record_value = domains.txt_record(row)
    return ctx.page("admin/domain.html", domain=row, record_name=record_name, record_value=record_value,
                    expires=domains.expires_at(row))


@admin_action
async def domain_verify(ctx: AdminContext, form) -> Response:
    name = ctx.request.path_params["name"]
    settings = ctx.inst.settings
    try:
        row = await ctx.call(domains.verify_domain, ctx.inst.store, ctx.tenant.id, ctx.actor, name,
                             settings.dns_resolvers, settings.dns_timeout)
    except domains.DnsUnanswered as exc:
        return ctx.back(f"/admin/domains/{exc.domain.name}", _("Learned nothing, nothing changed: %(problem)s") % {"problem": message_text(web_refusal(exc))})
    outcome = _("Verified: %(reason)s") if row.status == DomainStatus.VERIFIED else _("Not verified: %(reason)s")
    return ctx.back(f"/admin/domains/{row.name}", outcome % {"reason": row.status_reason})


@admin_action
async def domain_delete(ctx: AdminContext, form) -> Response:
    name = ctx.request.path_params["name"]
    try:
        await ctx.call(domains.delete_domain, ctx.inst.store, ctx.tenant.id, ctx.actor, name)
    except ServiceError as exc:
        return ctx.back(f"/admin/domains/{name}", message_text(web_refusal(exc)))
    return ctx.back("/admin/domains", _("Domain %(name)s deleted.") % {"name": name})
