"""Upstream sign-in providers: add, change, map groups, remove; and the
tenant's password sign-in switch (docs/identity-providers.md)."""

from __future__ import annotations

import json

from starlette.responses import Response

from ostiary.identity.presets import PRESETS
from ostiary.portal.admin.guard import AdminContext, admin_action, admin_page, checked, lines, problems, sort_rows
from ostiary.portal.i18n import N_, gettext as _
from ostiary.services.rules import providers, tenants
from ostiary.services.base.errors import Problem, ServiceError
from ostiary.services.rules.providers import ProviderSettings


def _redirect_uri(ctx: AdminContext, name: str) -> str:
    from ostiary.portal.instance import request_host

    return ctx.inst.settings.public_url(request_host(ctx.request) or "", providers.redirect_path(name))


def _secret_ref(form) -> str | None:
    source, where = str(form.get("secret_source", "")), str(form.get("secret_where", "")).strip()
    if not where:
        return None
    return f"{source}:{where}" if source in ("file", "env") else where


def _settings(form, preset: str | None) -> ProviderSettings:
    def text(name):
        value = str(form.get(name, "")).strip()
        return value or None

    claims = {k: str(form.get(f"claim_{k}", "")).strip() for k in providers.CLAIM_KEYS if f"claim_{k}" in form}
    return ProviderSettings(
        preset=preset, display_name=text("display_name"), issuer=text("issuer"), directory=text("directory"),
        allowed_directories=lines(form.get("allowed_directories")) if "allowed_directories" in form else None,
        client_id=text("client_id"), client_secret_ref=_secret_ref(form), scopes=text("scopes"),
        claims={k: v for k, v in claims.items() if v or k == "groups"} or None,
        account_policy=text("account_policy"),
        create_domains=lines(form.get("create_domains")) if "create_domains" in form else None,
        trusted_domains=lines(form.get("trusted_domains")) if "trusted_domains" in form else None,
        # LDAP directories (preset ldap): the URL is the issuer, the bind DN the client id.
        start_tls=checked(form, "start_tls") if "start_tls_present" in form else None,
        ca_file=text("ca_file"), user_base=text("user_base"), user_filter=text("user_filter"),
        group_base=text("group_base"), group_filter=text("group_filter"),
    )


@admin_page
async def provider_list(ctx: AdminContext) -> Response:
    return await _list(ctx)


async def _list(ctx: AdminContext, status: int = 200, errors=(), form=None) -> Response:
    rows = sort_rows(await ctx.call(providers.list_providers, ctx.inst.store, ctx.tenant.id),
                     ctx.request.query_params.get("sort", "")[:32] if status == 200 else "",
                     {"name": lambda p: p.name, "button": lambda p: p.display_name, "kind": lambda p: p.preset,
                      "issuer": lambda p: p.issuer, "state": lambda p: not p.enabled})
    password_on = await ctx.call(providers.password_sign_in, ctx.inst.store, ctx.tenant.id)
    policy = await ctx.call(tenants.second_factor_policy, ctx.inst.store, ctx.tenant.id)
    # Directories (preset ldap) have a form of their own, with their own settings.
    presets = {k: p for k, p in PRESETS.items() if p.protocol != "ldap"}
    directory_form = (form or {}).get("preset") == "ldap"
    return ctx.page("admin/providers.html", status=status, rows=rows, presets=presets, password_on=password_on,
                    policy=policy,
                    errors=[] if directory_form else list(errors), directory_errors=list(errors) if directory_form else [],
                    form=form or {}, redirect_base=_redirect_uri(ctx, "NAME"))


@admin_action
async def provider_add(ctx: AdminContext, form) -> Response:
    name, preset = str(form.get("name", "")), str(form.get("preset", "oidc"))
    try:
        row = await ctx.call(providers.add_provider, ctx.inst.store, ctx.tenant.id, ctx.actor, name,
                             _settings(form, preset), allow_http=ctx.inst.settings.dev)
    except ServiceError as exc:
        return await _list(ctx, 422, problems(exc), {k: str(v) for k, v in form.items() if k != "csrf"})
    if preset == "ldap":
        return ctx.back(f"/admin/providers/{row.id}", _("Directory %(name)s added.") % {"name": row.display_name})
    return ctx.back(f"/admin/providers/{row.id}", _("Provider %(name)s added: register its redirect URI.") % {"name": row.display_name})


@admin_action
async def password_switch(ctx: AdminContext, form) -> Response:
    on = form.get("password_sign_in") == "1"
    if not on and not await ctx.call(providers.count_providers, ctx.inst.store, ctx.tenant.id):
        return await _list(ctx, 422, [Problem("password_sign_in", N_("add a provider first: nobody but admins could sign in"))])
    await ctx.call(providers.set_password_sign_in, ctx.inst.store, ctx.tenant.id, ctx.actor, on)
    return ctx.back("/admin/providers", _("Password sign-in is on.") if on else
                    _("Password sign-in is off; administrators can still use /sign-in?with=password."))


@admin_action
async def second_factor_policy(ctx: AdminContext, form) -> Response:
    try:
        policy = await ctx.call(tenants.set_second_factor_policy, ctx.inst.store, ctx.tenant.id, ctx.actor,
                                str(form.get("policy", "")))
    except ServiceError as exc:
        return await _list(ctx, 422, problems(exc))
    return ctx.back("/admin/providers", {"off": _("A second factor is required of nobody."),
                                         "admins": _("Administrators must have a second factor."),
                                         "everyone": _("Everyone must have a second factor.")}[policy])


async def _row(ctx: AdminContext):
    return await ctx.call(providers.get_provider_by_id, ctx.inst.store, ctx.tenant.id,
                          int(ctx.request.path_params["provider_id"]))


@admin_page
async def provider_detail(ctx: AdminContext) -> Response:
    return await _detail(ctx)


async def _detail(ctx: AdminContext, status: int = 200, errors=()) -> Response:
    row = await _row(ctx)
    maps = await ctx.call(providers.mappings, ctx.inst.store, ctx.tenant.id, row.id)
    return ctx.page("admin/provider.html", status=status, p=row, maps=maps, errors=list(errors),
                    claims=json.loads(row.claims), create_domains=json.loads(row.create_domains),
                    trusted_domains=json.loads(row.trusted_domains),
                    allowed_directories=json.loads(row.allowed_directories), redirect_uri=_redirect_uri(ctx, row.name),
                    directory_options=json.loads(row.options or "{}"))


@admin_action
async def provider_edit(ctx: AdminContext, form) -> Response:
    row = await _row(ctx)
    settings = _settings(form, None)
    if "enabled_present" in form:
        from dataclasses import replace

        settings = replace(settings, enabled=checked(form, "enabled"))
    try:
        await ctx.call(providers.update_provider, ctx.inst.store, ctx.tenant.id, ctx.actor, row.name, settings,
                       allow_http=ctx.inst.settings.dev)
    except ServiceError as exc:
        return await _detail(ctx, 422, problems(exc))
    return ctx.back(f"/admin/providers/{row.id}", _("Provider changed."))


@admin_action
async def provider_mapping(ctx: AdminContext, form) -> Response:
    row = await _row(ctx)
    upstream, group, remove = str(form.get("upstream_group", "")), str(form.get("group", "")), form.get("remove") == "1"
    try:
        await ctx.call(providers.map_group, ctx.inst.store, ctx.tenant.id, ctx.actor, row.name, upstream, group, remove)
    except ServiceError as exc:
        return await _detail(ctx, 422, problems(exc))
    return ctx.back(f"/admin/providers/{row.id}", f"{upstream} no longer maps to {group}." if remove
                    else f"{upstream} maps to {group}.")


@admin_action
async def provider_delete(ctx: AdminContext, form) -> Response:
    row = await _row(ctx)
    links = await ctx.call(providers.remove_provider, ctx.inst.store, ctx.tenant.id, ctx.actor, row.name)
    return ctx.back("/admin/providers", _("Provider %(name)s removed with %(links)s linked identities.") % {"name": row.display_name, "links": links})
