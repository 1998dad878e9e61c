"""Looking after an installation: the key sealing its secrets at rest, and
backups (docs/operations.md, "Secrets at rest" and "Backups")."""

from __future__ import annotations

from pathlib import Path

import click

from ostiary.cli.base import Context, ExitCode, fail, handles_errors, json_option, main, pass_ctx, print_json
from ostiary.secretbox import SecretBox, SecretKeyProblem, generate_key, read_key_file
from ostiary.store import sealed


@main.group("secret-key")
def secret_key() -> None:
    """The key that encrypts signing keys and TOTP secrets in the database (OSTIARY_SECRET_KEY_FILE)."""


@secret_key.command("generate")
def secret_key_generate() -> None:
    """Print a new key; save it to an owner-only file, e.g. `umask 077; ostiary secret-key generate > FILE`."""
    click.echo(generate_key())


@secret_key.command("rotate")
@click.option("--new-key-file", required=True, type=click.Path(dir_okay=False),
              help="The key file to encrypt with from now on (its first key encrypts).")
@pass_ctx
@handles_errors
def secret_key_rotate(ctx: Context, new_key_file: str) -> None:
    """Re-encrypt every stored secret with the key in --new-key-file, in one transaction.
    The current OSTIARY_SECRET_KEY_FILE (or none) must open them."""
    try:
        new = SecretBox(tuple(read_key_file(Path(new_key_file))), str(Path(new_key_file).absolute()))
    except SecretKeyProblem as exc:
        fail(f"new_key_file: {exc}")
    store = ctx.store
    with store.write() as conn:  # every value, or none: a value that does not open rolls it all back
        count = sealed.reseal_all(conn, store.box, new)
    click.echo(f"{count} stored secret(s) re-encrypted with {new.source}; now set OSTIARY_SECRET_KEY_FILE to it "
               "for every server and command, and restart the servers (docs/operations.md)")


# --- backups ---------------------------------------------------------------------------

@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_ctx
@handles_errors
def backup_command(ctx: Context, file: str) -> None:
    """Write a consistent copy of the database to the new FILE, while the servers keep running.
    The copy holds the secrets encrypted: keep OSTIARY_SECRET_KEY_FILE too, elsewhere."""
    from ostiary.backup import BackupRefused, backup
    from ostiary.store import open_store

    url = ctx.settings.effective_database_url
    store = open_store(url, ctx.settings.secret_box())
    try:
        store.ensure_installed()  # any schema: a backup is what to take before `ostiary migrate`
    finally:
        store.dispose()
    try:
        click.echo(backup(url, Path(file)))
    except BackupRefused as exc:
        fail(str(exc), status=1)


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_ctx
@handles_errors
def restore_command(ctx: Context, file: str) -> None:
    """Replace the database with the backup in FILE. Stop the servers first, start them after."""
    from ostiary.backup import BackupRefused, restore

    try:
        click.echo(restore(ctx.settings.effective_database_url, Path(file), ctx.settings.secret_box()))
    except BackupRefused as exc:
        fail(str(exc), status=1)
    click.echo("start the servers now; `ostiary serve` migrates the schema if the backup is older")


# --- configuration ---------------------------------------------------------------------

@main.group("config")
def config_group() -> None:
    """The settings (OSTIARY_* variables and the OSTIARY_CONFIG file)."""


@config_group.command("check")
@json_option
def config_check(as_json: bool) -> None:
    """Print the effective settings (secrets redacted) and every problem at once; exit 1 when there are any."""
    from ostiary.configcheck import check

    report = check()
    if as_json:
        print_json({"settings": [{"name": "OSTIARY_" + name.upper(), "value": value, "source": source}
                                 for name, value, source in report.settings],
                    "notes": list(report.notes), "problems": [str(p) for p in report.problems]})
        raise SystemExit(ExitCode.FAILURE if report.problems else ExitCode.OK)
    click.echo("settings (value, from):")
    width = max(len(name) for name, _, _ in report.settings) + len("OSTIARY_")
    for name, value, source in report.settings:
        click.echo(f"  {('OSTIARY_' + name.upper()).ljust(width)}  {value}  ({source})")
    for note in report.notes:
        click.echo(f"note: {note}")
    if not report.problems:
        click.echo("no problems found")
        return
    click.echo(f"{len(report.problems)} problem(s):", err=True)
    for problem in report.problems:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(1)


# --- packaging -------------------------------------------------------------------------

@main.command("systemd-unit")
def systemd_unit() -> None:
    """Print the hardened systemd unit shipped with Ostiary (docs/operations.md, "As a systemd service")."""
    from importlib.resources import files

    click.echo(files("ostiary").joinpath("systemd/ostiary.service").read_text(encoding="utf-8"), nl=False)
