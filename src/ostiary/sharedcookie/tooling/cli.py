"""``ostiary cookie-doctor``: the click command the main CLI registers."""

from __future__ import annotations

import click
import httpx

from ostiary.sharedcookie.tooling.cookie_doctor import breaks_sharing, diagnose, fetch_set_cookie_lines, render_findings

# Exit codes: 0 sharing works, 1 something will break sharing, 2 bad usage (click's own).
EXIT_BREAKS = 1


@click.command("cookie-doctor")
@click.argument("url", required=False)
@click.option("--set-cookie", "set_cookie_lines", multiple=True, metavar="LINE",
              help="A Set-Cookie line (repeatable), e.g. copied from the browser's network tab.")
@click.option("--host", "hosts", multiple=True, metavar="H",
              help="A host (or URL) that must share the cookie (repeatable). Defaults to the URL's host.")
@click.option("--set-by", metavar="URL", help="The host whose response carries the --set-cookie lines "
              "(default: the URL, else the first --host).")
@click.option("--cookie", "cookie_names", multiple=True, metavar="NAME",
              help="Only check these cookies (repeatable; default: every cookie in the lines).")
@click.option("--follow-redirects", is_flag=True, help="Follow redirects and collect every hop's Set-Cookie.")
@click.option("--insecure", is_flag=True, help="Do not verify the URL's TLS certificate (test setups).")
def cookie_doctor_command(url: str | None, set_cookie_lines: tuple[str, ...], hosts: tuple[str, ...],
                          set_by: str | None, cookie_names: tuple[str, ...], follow_redirects: bool,
                          insecure: bool) -> None:
    """Explain what a browser will do with a chat's cookies across HOSTS, and what to change.

    Give a URL to fetch its Set-Cookie lines, or --set-cookie LINE. Exits 1
    when something will break sharing.
    """
    if not url and not set_cookie_lines:
        raise click.UsageError("give a URL to fetch, or at least one --set-cookie LINE")
    lines = list(set_cookie_lines)
    if url:
        try:
            lines += fetch_set_cookie_lines(url, follow_redirects=follow_redirects, verify=not insecure)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"could not fetch {url}: {exc}") from exc
    targets = list(hosts) or ([url] if url else [])
    if not targets:
        raise click.UsageError("name the hosts that must share the cookie with --host H (repeatable)")
    try:
        findings = diagnose(lines, targets, set_by=set_by or url, cookie_names=cookie_names or None)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(render_findings(findings), nl=False)
    if breaks_sharing(findings):
        raise SystemExit(EXIT_BREAKS)
