"""Sessions, signing keys, API tokens and the audit log."""

from __future__ import annotations

import time

import click

from ostiary.cli.base import (
    handles_errors, json_option, main, pass_ctx, print_json, print_table, tenant_option, utc,
)
from ostiary.services.queries import pages
from ostiary.services.rules import keys as keys_service
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.rules import users as users_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput, Problem


# --- sessions and keys -------------------------------------------------------

@main.group()
def session() -> None:
    """Central sessions: who is signed in, and ending them."""


@session.command("list")
@click.option("--user", "email", default=None, help="Only this user's sessions (email or username).")
@click.option("--search", default="", help="Case-insensitive part of the user's email or username, or the address.")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def session_list(ctx, email, search, tenant, as_json) -> None:
    """Live sessions, newest first."""
    tid = ctx.tenant_id(tenant)
    uid = users_service.get_user(ctx.store, tid, email).id if email else None
    entries, offset = [], 0
    while offset is not None:  # every live session, a page at a time
        page = pages.sessions_page(ctx.store, tid, search, user_id=uid, limit=500, offset=offset)
        entries += page.items
        offset = page.next_offset
    if as_json:  # the session id ends a session (`ostiary session revoke ID`); it signs nothing in
        return print_json([dict(e.__dict__) for e in entries])
    print_table(["SESSION", "USER", "FROM", "STARTED", "LAST SEEN", "2FA"],
                [[e.id, e.email, e.client_addr or "?", utc(e.created_at), utc(e.last_seen_at), e.second_factor]
                 for e in entries], empty="no live sessions")


@session.command("revoke")
@click.argument("session_id", required=False)
@click.option("--user", "email", default=None, help="End every session of this user.")
@tenant_option
@pass_ctx
@handles_errors
def session_revoke(ctx, session_id, email, tenant) -> None:
    if bool(session_id) == bool(email):
        raise InvalidInput([Problem("session", "name one session ID or --user EMAIL, not both or neither")])
    tid = ctx.tenant_id(tenant)
    if email:
        user_row = users_service.get_user(ctx.store, tid, email)
        count = sessions_service.end_user_sessions(ctx.store, tid, user_row.id, "revoked by admin", CLI_ACTOR)
        click.echo(f"{count} session(s) of {email} ended")
    else:
        sessions_service.get_session(ctx.store, tid, session_id)
        ended = sessions_service.end_session(ctx.store, tid, session_id, "revoked by admin", CLI_ACTOR)
        click.echo(f"session {session_id} " + ("ended" if ended else "had already ended"))


@main.group()
def keys() -> None:
    """Signing keys for forward-auth cookies and handshake tokens."""


def _utc(at: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds} s"


def _key_state(row, now: float) -> str:
    if row.retire_at is None:
        return f"signs from {_utc(row.created_at)} (in {_span(row.created_at - now)})" if row.created_at > now \
            else "signing"
    if row.retire_at > now:
        return f"verifies until {_utc(row.retire_at)} ({_span(row.retire_at - now)} from now)"
    return f"retired at {_utc(row.retire_at)}"


def _rotation_overlap(ctx) -> int:
    """The servers' OSTIARY_KEY_OVERLAP_SECONDS as they recorded it at start; this
    shell's own only when no server has started, or when it says the same."""
    servers = keys_service.recorded_overlap(ctx.store)
    own = ctx.settings.key_overlap_seconds
    if servers is None:
        return own
    if "key_overlap_seconds" in ctx.settings.model_fields_set and own != servers:
        raise InvalidInput([Problem("overlap", f"OSTIARY_KEY_OVERLAP_SECONDS is {own} s here but the servers run with "
                                               f"{servers} s: pass --overlap SECONDS to choose this rotation's window")])
    return servers


@keys.command("rotate")
@click.option("--overlap", "overlap", type=int, default=None, metavar="SECONDS",
              help="Every older key verifies for at most this long (0: they stop within 2 s, for a leaked key). "
                   "Default: the servers' OSTIARY_KEY_OVERLAP_SECONDS.")
@pass_ctx
@handles_errors
def keys_rotate(ctx, overlap) -> None:
    """Make a new key sign, and set how long every older key still verifies."""
    overlap = _rotation_overlap(ctx) if overlap is None else overlap
    kid = keys_service.rotate_keys(ctx.store, CLI_ACTOR, overlap)
    now = time.time()
    click.echo(f"key {kid} signs in {keys_service.PUBLISH_AHEAD:.0f} s; every older key verifies for "
               f"at most {_span(max(overlap, keys_service.PUBLISH_AHEAD))} more:")
    for row in reversed(keys_service.list_keys(ctx.store)):
        click.echo(f"  {row.id}\t{_key_state(row, now)}")


@keys.command("list")
@json_option
@pass_ctx
@handles_errors
def keys_list(ctx, as_json) -> None:
    """Signing keys (never their secrets) and what each does now."""
    now = time.time()
    rows = keys_service.list_keys(ctx.store)
    if as_json:
        return print_json([{"id": k.id, "created_at": k.created_at, "retire_at": k.retire_at,
                            "signing": k.retire_at is None} for k in rows])
    print_table(["KEY", "CREATED", "STATE"], [[k.id, utc(k.created_at), _key_state(k, now)] for k in rows])


# --- API tokens and the audit log ---------------------------------------------

@main.group()
def token() -> None:
    """Bearer tokens for the JSON API (/api/v1)."""


@token.command("add")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True,
              help="write includes read")
@click.option("--expires-in-days", type=int, default=None)
@tenant_option
@pass_ctx
@handles_errors
def token_add(ctx, name, scope, expires_in_days, tenant) -> None:
    from ostiary.services.rules import api_tokens

    new = api_tokens.create_token(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, scope, expires_in_days)
    click.echo(f"token {new.row.id} ({new.row.name}, {new.row.scopes}) — shown once, store it now:")
    click.echo(new.token)


@token.command("list")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def token_list(ctx, tenant, as_json) -> None:
    """API tokens (never the tokens themselves)."""
    from ostiary.services.rules import api_tokens

    tid = ctx.tenant_id(tenant)
    rows, offset = [], 0
    while offset is not None:
        page = api_tokens.tokens_page(ctx.store, tid, limit=500, offset=offset)
        rows += page.items
        offset = page.next_offset
    now = time.time()

    def state(row) -> str:
        return "revoked" if row.revoked_at else "expired" if row.expires_at and row.expires_at <= now else "live"

    if as_json:
        return print_json([{"id": r.id, "name": r.name, "scopes": r.scopes.split(","), "state": state(r),
                            "created_by": r.created_by, "created_at": r.created_at, "last_used_at": r.last_used_at,
                            "expires_at": r.expires_at, "revoked_at": r.revoked_at} for r in rows])
    print_table(["ID", "NAME", "SCOPES", "STATE", "CREATED BY", "LAST USED", "EXPIRES"],
                [[r.id, r.name, r.scopes, state(r), r.created_by, utc(r.last_used_at), utc(r.expires_at)]
                 for r in rows], empty="no API tokens")


@token.command("revoke")
@click.argument("token_id", type=int)
@tenant_option
@pass_ctx
@handles_errors
def token_revoke(ctx, token_id, tenant) -> None:
    from ostiary.services.rules import api_tokens

    api_tokens.revoke_token(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, token_id)
    click.echo(f"token {token_id} revoked")


@main.command()
@click.option("--actor", default="")
@click.option("--entity", default="", help="user, group, domain, app, session, token, key, tenant")
@click.option("--entity-id", default="", help="Only entries about this one (its id, as --json shows).")
@click.option("--since", type=click.DateTime(), default=None, help="From this UTC time on, e.g. 2026-11-30T08:00.")
@click.option("--until", type=click.DateTime(), default=None, help="Before this UTC time.")
@click.option("--action", default="", help="e.g. user.disable, or a prefix such as app.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0, None), help="Skip this many (paging).")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def audit(ctx, actor, entity, entity_id, since, until, action, limit, offset, tenant, as_json) -> None:
    """The audit log, newest first: who changed what, when and from where."""
    from ostiary.services.queries.audit import audit_page

    page = audit_page(ctx.store, ctx.tenant_id(tenant), actor=actor, entity=entity, entity_id=entity_id,
                      action=action, since=_unix(since), until=_unix(until), limit=limit, offset=offset)
    if as_json:
        return print_json([dict(e.__dict__) for e in page.items])
    named = _names(ctx, ctx.tenant_id(tenant))
    for e in page.items:  # a deleted user or app: the name another entry recorded
        recorded = next((str(e.detail[k]) for k in ("email", "name") if isinstance(e.detail, dict) and e.detail.get(k)),
                        None)
        if recorded and e.action.endswith((".add", ".delete")):
            named.setdefault((e.entity, e.entity_id), recorded)
    print_table(["WHEN", "ACTOR", "FROM", "ACTION", "WHAT"],
                [[utc(e.at, seconds=True), e.actor, e.actor_addr or "-", e.action, _what(e, named)]
                 for e in page.items])
    click.echo(f"({len(page.items)} of {page.total})")


def _unix(at) -> float | None:
    import datetime

    return None if at is None else at.replace(tzinfo=datetime.timezone.utc).timestamp()


def _names(ctx, tid: int) -> dict[tuple[str, str], str]:
    """What each entity id of the tenant is called now (users by email)."""
    from ostiary.services.rules import apps as apps_service
    from ostiary.services.rules import domains as domains_service
    from ostiary.services.rules import groups as groups_service
    from ostiary.services.rules import tenants as tenants_service

    named = {("user", str(r.id)): r.email for r in users_service.list_users(ctx.store, tid, limit=1_000_000)}
    named.update({("group", str(r.id)): r.name for r in groups_service.list_groups(ctx.store, tid, limit=1_000_000)})
    named.update({("app", str(r.id)): r.name for r in apps_service.list_apps(ctx.store, tid, limit=1_000_000)})
    named.update({("domain", str(r.id)): r.name for r in domains_service.list_domains(ctx.store, tid, limit=1_000_000)})
    named.update({("tenant", str(r.id)): r.slug for r in tenants_service.list_tenants(ctx.store)})
    return named


def _what(entry, named: dict[tuple[str, str], str]) -> str:
    """The entity by name: as it is called now, else as the entry recorded it
    (a deleted user or app), else its id."""
    name = named.get((entry.entity, entry.entity_id))
    if name is None:
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        name = next((str(detail[k]) for k in ("email", "name") if detail.get(k)), None)
    if entry.entity == "session" and name is None:
        return f"session {entry.entity_id[:12]}"
    return f"{entry.entity} {name}" if name else f"{entry.entity} {entry.entity_id}"
