"""Destructive actions ask first, on a page of their own that says what will
happen, whose button sends the same CSRF-checked POST the action always took.
Plain links and forms: no JavaScript needed."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.portal.admin import security
from ostiary.portal.admin.guard import AdminContext, admin_page, problems
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
    who = "every user" if s.app.all_users else (", ".join(s.grants) if s.grants else "nobody")
    return _confirm(ctx, f"Delete the app {s.app.name}?", [
        f"Nobody can enter {s.app.url} any more: /check answers 403 for every request to it, signed in or not, "
        "until you remove its snippet from your proxy or create the app again.",
        f"Its grants ({who}) and settings are deleted. This cannot be undone; creating it again starts afresh.",
    ], f"/admin/apps/{s.app.id}/delete", f"Delete {s.app.name}", f"/admin/apps/{s.app.id}")


@admin_page
async def domain_delete(ctx: AdminContext) -> Response:
    row = await ctx.call(domains.get_domain, ctx.inst.store, ctx.tenant.id, ctx.request.path_params["name"])
    return _confirm(ctx, f"Delete the domain {row.name}?", [
        f"Its portal host {row.portal_host} stops serving sign-in for apps under {row.name}.",
        "A domain that still has proxy apps is not deleted: delete or move them first.",
        "To use the domain again you register it and verify its TXT record again.",
    ], f"/admin/domains/{row.name}/delete", f"Delete {row.name}", f"/admin/domains/{row.name}")


@admin_page
async def group_delete(ctx: AdminContext) -> Response:
    detail = await ctx.call(admin_views.group_detail, ctx.inst.store, ctx.tenant.id,
                            int(ctx.request.path_params["group_id"]))
    g = detail.group
    members, granted = await ctx.call(groups.group_usage, ctx.inst.store, ctx.tenant.id, g.name)
    said = [f"Deleting {g.name} removes {groups.in_use_text(members, granted)}: its members lose what it grants."
            if members or granted else f"{g.name} has no members and grants no app: nobody loses access."]
    if detail.children:
        said.append(f"It has child groups ({', '.join(detail.children)}), so it will not be deleted: move or delete "
                    "them first.")
    said.append("This cannot be undone.")
    return _confirm(ctx, f"Delete the group {g.name}?", said, f"/admin/groups/{g.id}/delete", f"Delete {g.name}",
                    f"/admin/groups/{g.id}", {"confirm": "1"})


@admin_page
async def user_disable(ctx: AdminContext) -> Response:
    user = await ctx.call(admin_views.user_by_id, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["user_id"]))
    return _confirm(ctx, f"Disable {user.email}?", _disable_consequences(user.email), f"/admin/users/{user.id}/active", f"Disable {user.email}", f"/admin/users/{user.id}", {"active": "0"})


def _disable_consequences(email: str) -> list[str]:
    return [f"{email} is signed out of every app on every domain within a second, and cannot sign in again.",
            "Their groups, grants and password are kept: enabling them again on their page restores access."]


def user_edit_disable(ctx: AdminContext, user, fields: dict) -> Response:
    """The user form unticked "enabled": the same question as Disable, whose button sends the form again."""
    return _confirm(ctx, f"Disable {user.email}?", [
        *_disable_consequences(user.email), "The other changes in the form are saved with it.",
    ], f"/admin/users/{user.id}/edit", f"Disable {user.email} and save", f"/admin/users/{user.id}", fields)


@admin_page
async def user_delete(ctx: AdminContext) -> Response:
    user = await ctx.call(admin_views.user_by_id, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["user_id"]))
    member_of = await ctx.call(admin_views.user_groups, ctx.inst.store, ctx.tenant.id, user.id)
    return _confirm(ctx, f"Delete {user.email}?", [
        f"{user.email} is signed out of every app on every domain within a second, and cannot sign in again.",
        f"Their account is deleted with its memberships ({', '.join(g.name for g in member_of) or 'none'}), second "
        "factors, passkeys and linked sign-in provider identities. This cannot be undone: the audit log keeps "
        "what they did.",
        "To keep the account and only stop access, disable it instead.",
    ], f"/admin/users/{user.id}/delete", f"Delete {user.email}", f"/admin/users/{user.id}")


@admin_page
async def provider_delete(ctx: AdminContext) -> Response:
    row = await ctx.call(providers.get_provider_by_id, ctx.inst.store, ctx.tenant.id,
                         int(ctx.request.path_params["provider_id"]))
    maps = await ctx.call(providers.mappings, ctx.inst.store, ctx.tenant.id, row.id)
    return _confirm(ctx, f"Remove the sign-in provider {row.display_name}?", [
        f"The sign-in page stops offering {row.display_name}: nobody can sign in through it any more.",
        f"Every account's link to it and its {len(maps)} group mapping(s) are removed. The accounts stay: people "
        "with a password or another provider sign in with that. Adding the provider again starts without links.",
        "Sessions already open stay open until they end.",
    ], f"/admin/providers/{row.id}/delete", f"Remove {row.display_name}", f"/admin/providers/{row.id}")


@admin_page
async def user_sessions_end(ctx: AdminContext) -> Response:
    user = await ctx.call(admin_views.user_by_id, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["user_id"]))
    return _confirm(ctx, f"Sign {user.email} out everywhere?", [
        f"Every session of {user.email} ends: every app on every domain refuses it within a second.",
        "They can sign in again straight away (disable the account to stop that).",
    ], f"/admin/users/{user.id}/sessions/end", "Revoke all sessions", f"/admin/users/{user.id}")


@admin_page
async def key_rotate(ctx: AdminContext) -> Response:
    given = ctx.request.query_params.get("overlap_seconds", "").strip()[:12]
    default = ctx.inst.settings.key_overlap_seconds
    try:
        overlap = keys.check_overlap(int(given) if given.lstrip("-").isdigit() else (given or default))
    except ServiceError as exc:
        return await security.keys_page(ctx, 422, problems(exc), given)
    if overlap == 0:
        ending = ("Every older key stops verifying within 2 seconds: everyone is signed out of every app and signs "
                  "in again. Use this when a key may have leaked.")
    else:
        ending = (f"Every older key keeps verifying for at most {overlap} seconds ({overlap / 3600:.1f} hours) more, "
                  "so nobody is signed out; after that, cookies it signed stop working.")
    return _confirm(ctx, "Rotate the signing keys?", [
        f"A new key signs forward-auth cookies and sign-in links for the whole installation (every organisation) "
        f"from {keys.PUBLISH_AHEAD:.0f} seconds from now.", ending,
    ], "/admin/keys/rotate", "Rotate keys", "/admin/keys", {"overlap_seconds": given or str(default)})


@admin_page
async def token_revoke(ctx: AdminContext) -> Response:
    row = await ctx.call(api_tokens.get_token, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["token_id"]))
    return _confirm(ctx, f"Revoke the API token {row.name}?", [
        f"Every request that sends {row.name} is refused with 401 from now on: scripts and tools using it stop working.",
        "A revoked token cannot be restored: create a new one and give it to them instead.",
    ], f"/admin/tokens/{row.id}/revoke", f"Revoke {row.name}", "/admin/tokens")
