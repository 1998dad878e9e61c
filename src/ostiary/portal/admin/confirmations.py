"""Destructive actions ask first, on a page of their own that says what will
happen, whose button sends the same CSRF-checked POST the action always took.
Plain links and forms: no JavaScript needed."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.portal.admin import security
from ostiary.portal.admin.guard import AdminContext, admin_page, problems
from ostiary.portal.i18n import gettext as _, ngettext
from ostiary.portal.problem_text import message_text
from ostiary.services.queries import pages as admin_views
from ostiary.services.rules import api_tokens, domains, groups, keys, providers
from ostiary.services.base.errors import ServiceError


def _confirm(ctx: AdminContext, title: str, consequences: list[str], action: str, button: str, back: str,
             fields: dict | None = None) -> Response:
    return ctx.page("admin/confirm.html", title=title, consequences=consequences, action=action, button=button,
                    back=back, fields=fields or {}, section=back.split("/")[2] if back.count("/") > 1 else "index")


@admin_page
async def app_delete(ctx: AdminContext) -> Response:
    s = await ctx.call(admin_views.app_summary, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["app_id"]))
    who = _("every user") if s.app.all_users else (", ".join(s.grants) if s.grants else _("nobody"))
    app = {"name": s.app.name, "url": s.app.url, "who": who}
    return _confirm(ctx, _("Delete the app %(name)s?") % app, [
        _("Nobody can enter %(url)s any more: /check answers 403 for every request to it, signed in or not, "
          "until you remove its snippet from your proxy or create the app again.") % app,
        _("Its grants (%(who)s) and settings are deleted. This cannot be undone; creating it again starts afresh.") % app,
    ], f"/admin/apps/{s.app.id}/delete", _("Delete %(name)s") % app, f"/admin/apps/{s.app.id}")


@admin_page
async def domain_delete(ctx: AdminContext) -> Response:
    row = await ctx.call(domains.get_domain, ctx.inst.store, ctx.tenant.id, ctx.request.path_params["name"])
    domain = {"name": row.name, "host": row.portal_host}
    return _confirm(ctx, _("Delete the domain %(name)s?") % domain, [
        _("Its portal host %(host)s stops serving sign-in for apps under %(name)s.") % domain,
        _("A domain that still has proxy apps is not deleted: delete or move them first."),
        _("To use the domain again you register it and verify its TXT record again."),
    ], f"/admin/domains/{row.name}/delete", _("Delete %(name)s") % domain, f"/admin/domains/{row.name}")


@admin_page
async def group_delete(ctx: AdminContext) -> Response:
    detail = await ctx.call(admin_views.group_detail, ctx.inst.store, ctx.tenant.id,
                            int(ctx.request.path_params["group_id"]))
    g = detail.group
    members, granted = await ctx.call(groups.group_usage, ctx.inst.store, ctx.tenant.id, g.name)
    # What it is used by is the service's wording (English, as the CLI says it: docs/translations.md).
    said = [_("Deleting %(name)s removes %(what)s: its members lose what it grants.")
            % {"name": g.name, "what": message_text(groups.in_use_text(members, granted))}
            if members or granted else _("%(name)s has no members and grants no app: nobody loses access.") % {"name": g.name}]
    if detail.children:
        said.append(_("It has child groups (%(children)s), so it will not be deleted: move or delete them first.")
                    % {"children": ", ".join(detail.children)})
    said.append(_("This cannot be undone."))
    return _confirm(ctx, _("Delete the group %(name)s?") % {"name": g.name}, said, f"/admin/groups/{g.id}/delete",
                    _("Delete %(name)s") % {"name": g.name}, f"/admin/groups/{g.id}", {"confirm": "1"})


@admin_page
async def user_disable(ctx: AdminContext) -> Response:
    user = await ctx.call(admin_views.user_by_id, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["user_id"]))
    return _confirm(ctx, _("Disable %(email)s?") % {"email": user.email}, _disable_consequences(user.email),
                    f"/admin/users/{user.id}/active", _("Disable %(email)s") % {"email": user.email},
                    f"/admin/users/{user.id}", {"active": "0"})


def _disable_consequences(email: str) -> list[str]:
    return [_("%(email)s is signed out of every app on every domain within a second, and cannot sign in again.")
            % {"email": email},
            _("Their groups, grants and password are kept: enabling them again on their page restores access.")]


def user_edit_disable(ctx: AdminContext, user, fields: dict) -> Response:
    """The user form unticked "enabled": the same question as Disable, whose button sends the form again."""
    return _confirm(ctx, _("Disable %(email)s?") % {"email": user.email}, [
        *_disable_consequences(user.email), _("The other changes in the form are saved with it."),
    ], f"/admin/users/{user.id}/edit", _("Disable %(email)s and save") % {"email": user.email},
        f"/admin/users/{user.id}", fields)


@admin_page
async def user_delete(ctx: AdminContext) -> Response:
    user = await ctx.call(admin_views.user_by_id, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["user_id"]))
    member_of = await ctx.call(admin_views.user_groups, ctx.inst.store, ctx.tenant.id, user.id)
    person = {"email": user.email, "groups": ", ".join(g.name for g in member_of) or _("none")}
    return _confirm(ctx, _("Delete %(email)s?") % person, [
        _("%(email)s is signed out of every app on every domain within a second, and cannot sign in again.") % person,
        _("Their account is deleted with its memberships (%(groups)s), second factors, passkeys and linked sign-in "
          "provider identities. This cannot be undone: the audit log keeps what they did.") % person,
        _("To keep the account and only stop access, disable it instead."),
    ], f"/admin/users/{user.id}/delete", _("Delete %(email)s") % person, f"/admin/users/{user.id}")


@admin_page
async def provider_delete(ctx: AdminContext) -> Response:
    row = await ctx.call(providers.get_provider_by_id, ctx.inst.store, ctx.tenant.id,
                         int(ctx.request.path_params["provider_id"]))
    maps = await ctx.call(providers.mappings, ctx.inst.store, ctx.tenant.id, row.id)
    provider = {"name": row.display_name, "num": len(maps)}
    return _confirm(ctx, _("Remove the sign-in provider %(name)s?") % provider, [
        _("The sign-in page stops offering %(name)s: nobody can sign in through it any more.") % provider,
        ngettext("Every account's link to it and its %(num)d group mapping are removed. The accounts stay: people "
                 "with a password or another provider sign in with that. Adding the provider again starts without links.",
                 "Every account's link to it and its %(num)d group mappings are removed. The accounts stay: people "
                 "with a password or another provider sign in with that. Adding the provider again starts without links.",
                 len(maps)) % provider,
        _("Sessions already open stay open until they end."),
    ], f"/admin/providers/{row.id}/delete", _("Remove %(name)s") % provider, f"/admin/providers/{row.id}")


@admin_page
async def user_sessions_end(ctx: AdminContext) -> Response:
    user = await ctx.call(admin_views.user_by_id, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["user_id"]))
    person = {"email": user.email}
    return _confirm(ctx, _("Sign %(email)s out everywhere?") % person, [
        _("Every session of %(email)s ends: every app on every domain refuses it within a second.") % person,
        _("They can sign in again straight away (disable the account to stop that)."),
    ], f"/admin/users/{user.id}/sessions/end", _("Revoke all sessions"), f"/admin/users/{user.id}")


@admin_page
async def key_rotate(ctx: AdminContext) -> Response:
    given = ctx.request.query_params.get("overlap_seconds", "").strip()[:12]
    default = ctx.inst.settings.key_overlap_seconds
    try:
        overlap = keys.check_overlap(int(given) if given.lstrip("-").isdigit() else (given or default))
    except ServiceError as exc:
        return await security.keys_page(ctx, 422, problems(exc), given)
    if overlap == 0:
        ending = _("Every older key stops verifying within 2 seconds: everyone is signed out of every app and signs "
                   "in again. Use this when a key may have leaked.")
    else:
        ending = (_("Every older key keeps verifying for at most %(seconds)s seconds (%(hours)s hours) more, "
                    "so nobody is signed out; after that, cookies it signed stop working.")
                  % {"seconds": overlap, "hours": f"{overlap / 3600:.1f}"})
    return _confirm(ctx, _("Rotate the signing keys?"), [
        _("A new key signs forward-auth cookies and sign-in links for the whole installation (every organisation) "
          "from %(ahead)s seconds from now.") % {"ahead": f"{keys.PUBLISH_AHEAD:.0f}"}, ending,
    ], "/admin/keys/rotate", _("Rotate keys"), "/admin/keys", {"overlap_seconds": given or str(default)})


@admin_page
async def token_revoke(ctx: AdminContext) -> Response:
    row = await ctx.call(api_tokens.get_token, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["token_id"]))
    token = {"name": row.name}
    return _confirm(ctx, _("Revoke the API token %(name)s?") % token, [
        _("Every request that sends %(name)s is refused with 401 from now on: scripts and tools using it stop working.")
        % token,
        _("A revoked token cannot be restored: create a new one and give it to them instead."),
    ], f"/admin/tokens/{row.id}/revoke", _("Revoke %(name)s") % token, "/admin/tokens")
