"""Sessions, signing keys, API tokens and the audit log."""

from __future__ import annotations

import time

import click

from ostiary.cli.base import handles_errors, main, pass_ctx, tenant_option
from ostiary.services import keys as keys_service
from ostiary.services import sessions as sessions_service
from ostiary.services import users as users_service
from ostiary.services.actor import CLI_ACTOR
from ostiary.services.errors import InvalidInput, Problem


# --- sessions and keys -------------------------------------------------------

@main.group()
def session() -> None:
    """Central sessions: who is signed in, and ending them."""


@session.command("list")
@click.option("--user", "email", default=None)
@tenant_option
@pass_ctx
@handles_errors
def session_list(ctx, email, tenant) -> None:
    tid = ctx.tenant_id(tenant)
    uid = users_service.get_user(ctx.store, tid, email).id if email else None
    for row in sessions_service.list_sessions(ctx.store, tid, user_id=uid):
        click.echo(f"{row.id}\tuser {row.user_id}\tfrom {row.client_addr or '?'}")


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
@pass_ctx
@handles_errors
def keys_list(ctx) -> None:
    now = time.time()
    for row in keys_service.list_keys(ctx.store):
        click.echo(f"{row.id}\t{_key_state(row, now)}")


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
    from ostiary.services import api_tokens

    new = api_tokens.create_token(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, scope, expires_in_days)
    click.echo(f"token {new.row.id} ({new.row.name}, {new.row.scopes}) — shown once, store it now:")
    click.echo(new.token)


@token.command("list")
@tenant_option
@pass_ctx
@handles_errors
def token_list(ctx, tenant) -> None:
    from ostiary.services import api_tokens

    for row in api_tokens.tokens_page(ctx.store, ctx.tenant_id(tenant), limit=500).items:
        state = "revoked" if row.revoked_at else "live"
        click.echo(f"{row.id}\t{row.name}\t{row.scopes}\t{state}\tby {row.created_by}")


@token.command("revoke")
@click.argument("token_id", type=int)
@tenant_option
@pass_ctx
@handles_errors
def token_revoke(ctx, token_id, tenant) -> None:
    from ostiary.services import api_tokens

    api_tokens.revoke_token(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, token_id)
    click.echo(f"token {token_id} revoked")


@main.command()
@click.option("--actor", default="")
@click.option("--entity", default="", help="user, group, domain, app, session, token, key, tenant")
@click.option("--action", default="", help="e.g. user.disable, or a prefix such as app.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@tenant_option
@pass_ctx
@handles_errors
def audit(ctx, actor, entity, action, limit, tenant) -> None:
    """The audit log, newest first: who changed what, when and from where."""
    import datetime

    from ostiary.services.audit import audit_page

    page = audit_page(ctx.store, ctx.tenant_id(tenant), actor=actor, entity=entity, action=action, limit=limit)
    for e in page.items:
        at = datetime.datetime.fromtimestamp(e.at, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{at}\t{e.actor}\t{e.actor_addr or '-'}\t{e.action}\t{e.entity} {e.entity_id}")
    click.echo(f"({len(page.items)} of {page.total})")
