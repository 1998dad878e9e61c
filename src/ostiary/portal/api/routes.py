"""The API's operations: the same service calls, and so the same rules and
audit entries, as the admin pages and the CLI."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from ostiary.portal.api.addressing import KeepsSlashesInNames, app_name, domain_name, group_name, user_login
from ostiary.portal.api.auth import Caller, reader, writer
from ostiary.portal.api.models import (
    AppIn, AppOut, AppPatch, AuditOut, DomainIn, DomainOut, EndedOut, ErrorOut, GroupDetailOut, GroupIn, GroupOut,
    GroupPatch, InvitationIn, KeyOut, Page, RotatedOut, RotateIn, SecondFactorPolicy, SessionOut, SnippetOut,
    TenantOut, TenantPatch, TokenOut, UserIn, UserOut, UserPatch,
)
from ostiary.proxies import PROXIES
from ostiary.services.queries import pages as admin_views, audit
from ostiary.services.rules import apps, domains, groups, invitations, keys, passkeys, second_factor, sessions, tenants, users
from ostiary.services.base.errors import InvalidInput, Problem
from ostiary.services.base.listing import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from ostiary.services.queries.snippets import snippet_for_app

ERRORS = {401: {"model": ErrorOut, "description": "no token, or an unknown, revoked or expired one"},
          403: {"model": ErrorOut, "description": "the token's scope does not allow this call"},
          404: {"model": ErrorOut}, 409: {"model": ErrorOut},
          422: {"model": ErrorOut, "description": "bad input: each problem names its field"}}

Limit = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
Offset = Query(0, ge=0, le=MAX_OFFSET)
Search = Query("", max_length=200, description="case-insensitive substring")


def _page(page, convert) -> dict:
    return {"items": [convert(i) for i in page.items], "total": page.total, "limit": page.limit, "offset": page.offset}


# --- the caller ---------------------------------------------------------------------------

me = APIRouter(route_class=KeepsSlashesInNames, tags=["token"], responses=ERRORS)


@me.get("/me", response_model=TokenOut, summary="The token making this call")
def whoami(c: Caller = Depends(reader)):
    return TokenOut(id=c.token.id, name=c.token.name, scopes=sorted(c.token.scopes))


# --- domains ------------------------------------------------------------------------------

dom = APIRouter(route_class=KeepsSlashesInNames, prefix="/domains", tags=["domains"], responses=ERRORS)


@dom.get("", response_model=Page[DomainOut])
def list_domains(q: str = Search, limit: int = Limit, offset: int = Offset, c: Caller = Depends(reader)):
    return _page(admin_views.domains_page(c.store, c.tenant_id, q, limit, offset), DomainOut.of)


@dom.post("", response_model=DomainOut, status_code=201, summary="Register a domain; answers the TXT record to create")
def add_domain(body: DomainIn, c: Caller = Depends(writer)):
    return DomainOut.of(domains.add_domain(c.store, c.tenant_id, c.actor, body.name, body.portal_host))


@dom.get("/{name}", response_model=DomainOut)
def get_domain(name: str, c: Caller = Depends(reader)):
    name = domain_name(c, name)
    return DomainOut.of(domains.get_domain(c.store, c.tenant_id, name))


@dom.post("/{name}/verify", response_model=DomainOut, summary="Query DNS for the TXT record now; the result and reason are stored")
def verify_domain(name: str, c: Caller = Depends(writer)):
    name = domain_name(c, name)
    try:
        return DomainOut.of(domains.verify_domain(c.store, c.tenant_id, c.actor, name,
                                                  c.settings.dns_resolvers, c.settings.dns_timeout))
    except domains.DnsUnanswered as exc:  # nothing learned, nothing changed: try again later
        return JSONResponse({"error": "dns_unanswered", "message": str(exc),
                             "problems": [{"field": "dns", "message": str(exc).partition(": ")[2]}]},
                            status_code=503, headers={"retry-after": "30"})


@dom.delete("/{name}", status_code=204, response_class=Response)
def delete_domain(name: str, c: Caller = Depends(writer)):
    name = domain_name(c, name)
    domains.delete_domain(c.store, c.tenant_id, c.actor, name)
    return Response(status_code=204)


# --- apps ---------------------------------------------------------------------------------

app_router = APIRouter(route_class=KeepsSlashesInNames, prefix="/apps", tags=["apps"], responses=ERRORS)


@app_router.get("", response_model=Page[AppOut])
def list_apps(q: str = Search, limit: int = Limit, offset: int = Offset, c: Caller = Depends(reader)):
    return _page(admin_views.apps_page(c.store, c.tenant_id, q, limit, offset), AppOut.of)


@app_router.post("", response_model=AppOut, status_code=201)
def add_app(body: AppIn, c: Caller = Depends(writer)):
    row = apps.add_app(c.store, c.tenant_id, c.actor, name=body.name, url=body.url, public_paths=body.public_paths,
                       headers=list(body.headers) or ["none"], all_users=body.all_users, groups_granted=body.groups,
                       require_2fa=body.require_2fa, allow_http=c.settings.dev)
    return AppOut.of(admin_views.app_summary(c.store, c.tenant_id, row.id))


@app_router.get("/{name}", response_model=AppOut)
def get_app(name: str, c: Caller = Depends(reader)):
    name = app_name(c, name)
    return AppOut.of(admin_views.app_summary(c.store, c.tenant_id, name))


@app_router.patch("/{name}", response_model=AppOut)
def edit_app(name: str, body: AppPatch, c: Caller = Depends(writer)):
    name = app_name(c, name)
    headers = None if body.headers is None else (list(body.headers) or ["none"])
    row = apps.update_app(c.store, c.tenant_id, c.actor, name, url=body.url, public_paths=body.public_paths,
                          headers=headers, all_users=body.all_users, enabled=body.enabled,
                          require_2fa=body.require_2fa, allow_http=c.settings.dev)
    return AppOut.of(admin_views.app_summary(c.store, c.tenant_id, row.id))


@app_router.delete("/{name}", status_code=204, response_class=Response)
def delete_app(name: str, c: Caller = Depends(writer)):
    name = app_name(c, name)
    apps.delete_app(c.store, c.tenant_id, c.actor, name)
    return Response(status_code=204)


@app_router.put("/{name}/grants/{group}", response_model=AppOut, summary="Let a group (and its descendants) enter")
def grant(name: str, group: str, c: Caller = Depends(writer)):
    name = app_name(c, name)
    group = group_name(c, group)
    apps.grant(c.store, c.tenant_id, c.actor, name, group)
    return AppOut.of(admin_views.app_summary(c.store, c.tenant_id, name))


@app_router.delete("/{name}/grants/{group}", response_model=AppOut)
def revoke(name: str, group: str, c: Caller = Depends(writer)):
    name = app_name(c, name)
    group = group_name(c, group)
    apps.revoke(c.store, c.tenant_id, c.actor, name, group)
    return AppOut.of(admin_views.app_summary(c.store, c.tenant_id, name))


@app_router.get("/{name}/snippets/{proxy}", response_model=SnippetOut,
                summary="The proxy configuration the admin page shows and the CLI prints")
def snippet(name: str, proxy: str, upstream: str | None = None, c: Caller = Depends(reader)):
    name = app_name(c, name)
    """`upstream`: where the proxy reaches the app (default: a placeholder to replace)."""
    if proxy not in PROXIES:
        raise InvalidInput([Problem("proxy", f'"{proxy}" is not a proxy: choose one of {", ".join(PROXIES)}')])
    app = admin_views.app_summary(c.store, c.tenant_id, name).app
    text = snippet_for_app(c.store, c.settings, c.tenant_id, app.name, proxy, upstream=upstream)
    return SnippetOut(app=app.name, proxy=proxy, text=text)


# --- users --------------------------------------------------------------------------------

usr = APIRouter(route_class=KeepsSlashesInNames, prefix="/users", tags=["users"], responses=ERRORS)


@usr.get("", response_model=Page[UserOut])
def list_users(q: str = Search, limit: int = Limit, offset: int = Offset, c: Caller = Depends(reader)):
    return _page(admin_views.users_page(c.store, c.tenant_id, q, limit, offset), UserOut.of)


def _user_out(c: Caller, row) -> UserOut:
    return UserOut.of(row, [g.name for g in admin_views.user_groups(c.store, c.tenant_id, row.id)],
                      passkeys.count_passkeys(c.store, c.tenant_id, row.id))


@usr.post("", response_model=UserOut, status_code=201)
def add_user(body: UserIn, c: Caller = Depends(writer)):
    row, _invited = invitations.add_user_or_invite(c.store, c.settings, c.tenant_id, c.actor, email=body.email,
                                                   username=body.username, display_name=body.display_name,
                                                   password=body.password, is_admin=body.is_admin)
    return _user_out(c, row)


@usr.post("/{login}/invitation", response_model=UserOut, status_code=202,
          summary="Email the user a fresh invitation (a user without a password); 503 when it cannot be sent")
def reinvite_user(login: str, c: Caller = Depends(writer)):
    login = user_login(c, login)
    user = users.get_user(c.store, c.tenant_id, login)
    return _user_out(c, invitations.invite(c.store, c.settings, c.tenant_id, c.actor, email=user.email).user)


invitation_routes = APIRouter(prefix="/invitations", tags=["users"], responses=ERRORS)


@invitation_routes.post("", response_model=UserOut, status_code=201,
                        summary="Invite a person by email: creates the user without a password and sends the link "
                                "(72 hours, single use); 503 with nothing created when the message cannot be sent")
def invite_user(body: InvitationIn, c: Caller = Depends(writer)):
    invited = invitations.invite(c.store, c.settings, c.tenant_id, c.actor, email=body.email, username=body.username,
                                 display_name=body.display_name, is_admin=body.is_admin)
    return _user_out(c, invited.user)


@usr.get("/{login}", response_model=UserOut, summary="A user by email or username, with their direct groups")
def get_user(login: str, c: Caller = Depends(reader)):
    login = user_login(c, login)
    return _user_out(c, users.get_user(c.store, c.tenant_id, login))


@usr.patch("/{login}", response_model=UserOut,
           summary="Change email, username or display name, enable or disable, grant or remove admin, set a password")
def edit_user(login: str, body: UserPatch, c: Caller = Depends(writer)):
    from ostiary.services.base.passwords import password_problem

    login = user_login(c, login)
    user = users.get_user(c.store, c.tenant_id, login)
    users.check_admin_change(c.store, c.tenant_id, user.email, active=body.active, is_admin=body.is_admin)
    if body.password is not None and password_problem(body.password):  # refused before anything is written
        raise InvalidInput([Problem("password", password_problem(body.password))])
    if body.email is not None or body.username is not None or body.display_name is not None:
        user = users.update_user(c.store, c.tenant_id, c.actor, user.email, email=body.email,
                                 username=body.username, display_name=body.display_name)
    if body.password is not None:
        users.set_password(c.store, c.tenant_id, c.actor, user.email, body.password)
    if body.active is not None:
        users.set_active(c.store, c.tenant_id, c.actor, user.email, body.active)
    if body.is_admin is not None:
        users.set_admin(c.store, c.tenant_id, c.actor, user.email, body.is_admin)
    return _user_out(c, users.get_user(c.store, c.tenant_id, user.email))


@usr.delete("/{login}", status_code=204, response_class=Response,
            summary="Delete the user, their memberships and sessions (409 for the last active admin)")
def delete_user(login: str, c: Caller = Depends(writer)):
    login = user_login(c, login)
    users.delete_user(c.store, c.tenant_id, c.actor, login)
    return Response(status_code=204)


@usr.delete("/{login}/second-factors", response_model=UserOut,
            summary="Reset the user's second factors: TOTP, recovery codes and every passkey (audited)")
def reset_second_factors(login: str, c: Caller = Depends(writer)):
    login = user_login(c, login)
    user = users.get_user(c.store, c.tenant_id, login)
    second_factor.reset_all(c.store, c.tenant_id, user.id, c.actor)
    return _user_out(c, users.get_user(c.store, c.tenant_id, user.email))


@usr.delete("/{login}/sessions", response_model=EndedOut, summary="Sign the user out everywhere")
def end_user_sessions(login: str, c: Caller = Depends(writer)):
    login = user_login(c, login)
    user = users.get_user(c.store, c.tenant_id, login)
    return EndedOut(ended=sessions.end_user_sessions(c.store, c.tenant_id, user.id, "revoked by admin", c.actor))


# --- groups -------------------------------------------------------------------------------

grp = APIRouter(route_class=KeepsSlashesInNames, prefix="/groups", tags=["groups"], responses=ERRORS)


def _group_out(n) -> GroupOut:
    return GroupOut(id=n.id, name=n.name, parent=n.parent, path=n.path)


@grp.get("", response_model=Page[GroupOut], summary="The tree, depth first; with q, the matching groups")
def list_groups(q: str = Search, limit: int = Limit, offset: int = Offset, c: Caller = Depends(reader)):
    return _page(admin_views.groups_page(c.store, c.tenant_id, q, limit, offset), _group_out)


def _detail_out(c: Caller, name: str) -> GroupDetailOut:
    d = admin_views.group_detail(c.store, c.tenant_id, name)
    return GroupDetailOut(id=d.group.id, name=d.group.name, parent=d.parent, path=d.path, children=d.children,
                          apps=d.direct_grants, inherited_apps=sorted({a for a, _ in d.inherited_grants}))


@grp.post("", response_model=GroupDetailOut, status_code=201)
def add_group(body: GroupIn, c: Caller = Depends(writer)):
    row = groups.add_group(c.store, c.tenant_id, c.actor, body.name, body.parent)
    return _detail_out(c, row.name)


@grp.get("/{name}", response_model=GroupDetailOut)
def get_group(name: str, c: Caller = Depends(reader)):
    name = group_name(c, name)
    return _detail_out(c, name)


@grp.patch("/{name}", response_model=GroupDetailOut,
           summary="Rename the group, and/or move it under another (or to the top with parent null)")
def move_group(name: str, body: GroupPatch, c: Caller = Depends(writer)):
    name = group_name(c, name)
    if not body.model_fields_set & {"parent", "name"}:
        raise InvalidInput([Problem("parent", "give parent (a group name, or null for the top level), name, or both")])
    move = {"parent": body.parent} if "parent" in body.model_fields_set else {}
    row = groups.change_group(c.store, c.tenant_id, c.actor, name, new_name=body.name, **move)
    return _detail_out(c, row.name)


@grp.delete("/{name}", status_code=204, response_class=Response,
            summary="Refused (409, naming what it would remove) while it has members or grants, unless force=true")
def delete_group(name: str, force: bool = Query(False, description="delete it with its memberships and grants"),
                 c: Caller = Depends(writer)):
    name = group_name(c, name)
    groups.delete_group(c.store, c.tenant_id, c.actor, name, force=force)
    return Response(status_code=204)


@grp.get("/{name}/members", response_model=Page[UserOut], summary="Direct members")
def group_members(name: str, q: str = Search, limit: int = Limit, offset: int = Offset, c: Caller = Depends(reader)):
    name = group_name(c, name)
    g = admin_views.group_detail(c.store, c.tenant_id, name).group
    return _page(admin_views.members_page(c.store, c.tenant_id, g.id, q, limit, offset), UserOut.of)


@grp.put("/{name}/members/{login}", status_code=204, response_class=Response)
def add_member(name: str, login: str, c: Caller = Depends(writer)):
    name = group_name(c, name)
    login = user_login(c, login)
    groups.add_member(c.store, c.tenant_id, c.actor, name, login)
    return Response(status_code=204)


@grp.delete("/{name}/members/{login}", status_code=204, response_class=Response)
def remove_member(name: str, login: str, c: Caller = Depends(writer)):
    name = group_name(c, name)
    login = user_login(c, login)
    groups.remove_member(c.store, c.tenant_id, c.actor, name, login)
    return Response(status_code=204)


# --- the tenant ----------------------------------------------------------------------------

ten = APIRouter(route_class=KeepsSlashesInNames, prefix="/tenant", tags=["tenant"], responses=ERRORS)


def _tenant_out(c: Caller) -> TenantOut:
    return TenantOut.model_validate(admin_views.tenant_summary(c.store, c.tenant_id))


@ten.get("", response_model=TenantOut, summary="The token's tenant: its host, session limits and password sign-in")
def get_tenant(c: Caller = Depends(reader)):
    return _tenant_out(c)


@ten.patch("", response_model=TenantOut, summary="Set how long sessions last")
def edit_tenant(body: TenantPatch, c: Caller = Depends(writer)):
    tenants.set_session_limits(c.store, c.tenant_id, c.actor, body.session_idle_seconds, body.session_absolute_seconds)
    return _tenant_out(c)


# --- sessions, audit, keys ----------------------------------------------------------------

sec = APIRouter(route_class=KeepsSlashesInNames, tags=["sessions, audit and keys"], responses=ERRORS)


@sec.get("/sessions", response_model=Page[SessionOut], summary="Live sessions, newest first")
def list_sessions(q: str = Search, user: Optional[str] = Query(None, description="email, username or id:<number>"),
                  limit: int = Limit, offset: int = Offset, c: Caller = Depends(reader)):
    user_id = users.get_user(c.store, c.tenant_id, user_login(c, user)).id if user else None
    page = admin_views.sessions_page(c.store, c.tenant_id, q, user_id, limit, offset)
    return _page(page, SessionOut.model_validate)


@sec.delete("/sessions/{session_id}", response_model=EndedOut, summary="End one session: its apps refuse it within a second")
def end_session(session_id: str, c: Caller = Depends(writer)):
    sessions.get_session(c.store, c.tenant_id, session_id)
    return EndedOut(ended=int(sessions.end_session(c.store, c.tenant_id, session_id, "revoked by admin", c.actor)))


@sec.get("/audit", response_model=Page[AuditOut], summary="Newest first")
def list_audit(actor: str = Query("", max_length=200, description="substring of the actor"),
               entity: str = Query("", max_length=32), entity_id: str = Query("", max_length=64),
               action: str = Query("", max_length=64, description="prefix, e.g. app. or app.grant"),
               since: Optional[float] = Query(None, description="UNIX seconds, inclusive"),
               until: Optional[float] = Query(None, description="UNIX seconds, exclusive"),
               limit: int = Limit, offset: int = Offset, c: Caller = Depends(reader)):
    page = audit.audit_page(c.store, c.tenant_id, actor=actor, entity=entity, entity_id=entity_id, action=action,
                            since=since, until=until, limit=limit, offset=offset)
    return _page(page, AuditOut.model_validate)


@sec.get("/keys", response_model=list[KeyOut], summary="Signing keys (never their secrets)")
def list_keys(c: Caller = Depends(reader)):
    return [KeyOut(id=k.id, created_at=k.created_at, retire_at=k.retire_at, signing=k.retire_at is None)
            for k in keys.list_keys(c.store)]


@sec.post("/keys/rotate", response_model=RotatedOut,
          summary="A new key signs; every older key verifies for overlap_seconds at most")
def rotate_keys(body: Optional[RotateIn] = None, c: Caller = Depends(writer)):
    overlap = c.settings.key_overlap_seconds if body is None or body.overlap_seconds is None else body.overlap_seconds
    kid = keys.rotate_keys(c.store, c.actor, overlap)
    return RotatedOut(id=kid, overlap_seconds=overlap, keys=list_keys(c))


# --- the second-factor policy -------------------------------------------------------------

policy = APIRouter(prefix="/second-factor-policy", tags=["users"], responses=ERRORS)


@policy.get("", response_model=SecondFactorPolicy, summary="Who must have a second factor")
def get_second_factor_policy(c: Caller = Depends(reader)):
    return SecondFactorPolicy(policy=tenants.second_factor_policy(c.store, c.tenant_id))


@policy.put("", response_model=SecondFactorPolicy,
            summary="off, admins or everyone; a person without one sets it up right after their password")
def set_second_factor_policy(body: SecondFactorPolicy, c: Caller = Depends(writer)):
    return SecondFactorPolicy(policy=tenants.set_second_factor_policy(c.store, c.tenant_id, c.actor, body.policy))


from ostiary.portal.api import providers as providers_api  # noqa: E402  (its own module: docs/identity-providers.md)
from ostiary.portal.api import oidc_clients as oidc_clients_api  # noqa: E402  (its own module: docs/oidc-provider.md)
from ostiary.portal.api import branding as branding_api  # noqa: E402  (docs/admin.md, "Branding")

ROUTERS = [me, dom, app_router, usr, invitation_routes, grp, ten, sec, policy, *providers_api.ROUTERS,
           *oidc_clients_api.ROUTERS, *branding_api.ROUTERS]
