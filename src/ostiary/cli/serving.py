"""Serving Ostiary, migrating its database, and `ostiary init`."""

from __future__ import annotations

import click

from ostiary.cli.base import Context, fail, handles_errors, main, pass_ctx, read_secret_file
from ostiary.serving import DEFAULT_SERVER, LOOPS, SERVER_LOOPS, run_server
from ostiary.services.rules import tenants as tenants_service
from ostiary.services.base.actor import CLI_ACTOR


# --- serving -------------------------------------------------------------

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9090, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--no-migrate", is_flag=True, help="Refuse to start unless the schema is already current.")
@click.option("--server", type=click.Choice(list(SERVER_LOOPS)), default=DEFAULT_SERVER, show_default=True,
              envvar="OSTIARY_SERVER",
              help="The HTTP server: uvicorn (with httptools), which answers a check for about half granian's CPU, "
                   "or granian (docs/configuration.md, \"Serving\").")
@click.option("--loop", type=click.Choice(["auto", *LOOPS]), default="auto",
              show_default=True, envvar="OSTIARY_EVENT_LOOP",
              help="The event loop; auto: the fastest one installed (uvloop, then asyncio); rloop: granian only.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Serve HTTPS directly with this certificate chain (PEM); usually the proxy terminates TLS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None)
@pass_ctx
@handles_errors
def serve(ctx: Context, host: str, port: int, workers: int, no_migrate: bool, server: str, loop: str,
          tls_cert: str | None, tls_key: str | None) -> None:
    """Serve Ostiary (SQLite under the data dir unless OSTIARY_DATABASE_URL is set)."""
    if bool(tls_cert) != bool(tls_key):
        fail("tls: pass both --tls-cert and --tls-key, or neither")
    run_server(ctx.settings, host=host, port=port, workers=workers, migrate=not no_migrate, server=server,
               tls=(tls_cert, tls_key) if tls_cert else None, loop=loop)


@main.command()
@click.option("--to", "revision", default=None, metavar="REVISION",
              help="Move the schema to this revision, up or down (default: this Ostiary's, the newest).")
@pass_ctx
@handles_errors
def migrate(ctx: Context, revision: str | None) -> None:
    """Create the database if missing and bring its schema up to date (or to --to)."""
    from ostiary.services.base.errors import InvalidInput, Problem
    from ostiary.store import open_store
    from ostiary.store.engine import current_revision, revisions

    if revision is None:
        store = ctx.migrated_store()
        click.echo(f"the database {store.name} is at schema {current_revision(store.engine)}, the current one")
        return
    if revision not in revisions():
        raise InvalidInput([Problem("to", f"{revision!r} is not a schema revision of this Ostiary: "
                                          f"choose one of {', '.join(revisions())}")])
    store = open_store(ctx.settings.effective_database_url, ctx.settings.secret_box())
    try:
        was = store.move_to(revision)
    finally:
        store.dispose()
    if revisions().index(revision) < revisions().index(was):
        click.echo(f"the database {store.name} went down from schema {was} to {revision}: what the later "
                   "revisions added is gone (docs/upgrading.md); run the Ostiary release whose schema this is")
    else:
        click.echo(f"the database {store.name} is at schema {revision} (it was at {was})")


@main.command()
@click.option("--base-domain", required=True, help="Tenant hosts are <slug>.<base-domain>.")
@click.option("--tenant", "slug", required=True)
@click.option("--admin-email", required=True)
@click.option("--admin-password-file", default=None, help="File holding the first admin's password ('-' for stdin).")
@pass_ctx
@handles_errors
def init(ctx: Context, base_domain: str, slug: str, admin_email: str, admin_password_file: str | None) -> None:
    """Set up a tenant, its base domain and a first admin. Safe to run again."""
    password = read_secret_file(admin_password_file, "admin_password_file")
    ctx.migrated_store()  # init is where an installation begins: it creates and migrates the database
    result = tenants_service.init_installation(ctx.store, base_domain, slug, admin_email, password, CLI_ACTOR)
    host = tenants_service.tenant_host(tenants_service.get_base_domain(ctx.store), result.tenant.slug)
    click.echo(f"tenant {result.tenant.slug}: {'created' if result.tenant_created else 'already there'}")
    click.echo(f"admin {admin_email}: {'created' if result.admin_created else 'already there'}")
    click.echo(f"sign in at {ctx.settings.public_url(host, '/sign-in')}")
