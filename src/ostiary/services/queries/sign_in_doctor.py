"""`ostiary doctor`, the sign-in doctor: every protected domain and app checked for what would
break sign-in. (`ostiary cookie-doctor`, for the chat's shared cookie, is
ostiary.sharedcookie.tooling.cookie_doctor.)

The checks themselves live in ostiary.dns.sign_in_checks; this module picks the ones that apply to
each domain and app, runs the DNS ones in parallel, and prints one line per finding.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import Row

from ostiary.config import Settings
from ostiary.dns import sign_in_checks
from ostiary.dns.sign_in_checks import Finding
from ostiary.dns.resolvers import Resolvers, format_resolvers
from ostiary.dns.status import DomainStatus
from ostiary.services.rules import apps as apps_service
from ostiary.services.rules import domains as domains_service
from ostiary.services.rules import mail
from ostiary.services.base.clock import CLOCK_LEEWAY, database_clock_offset, describe_offset
from ostiary.services.base.errors import N_, NotFound
from ostiary.sharedcookie.verifier.source_config import BrokenSource, SharedCookieSettings, build_source
from ostiary.store import Store

MARKS = {sign_in_checks.OK: "✓", sign_in_checks.INFO: "·", sign_in_checks.WARNING: "!", sign_in_checks.ERROR: "✗"}
MAX_PARALLEL_CHECKS = 8

Echo = Callable[[str], object]


@dataclass(frozen=True)
class Line:
    subject: str  # what the finding is about: a domain, "<domain> app <name>", or "clock"
    finding: Finding

    def render(self) -> str:
        mark = MARKS.get(self.finding.severity, "?")
        fix = f" — fix: {self.finding.fix}" if self.finding.fix and not self.finding.ok else ""
        return f"{mark} {self.subject}: {self.finding.message}{fix}"


def run_doctor(store: Store, settings: Settings, tenant_id: int, domain_name: str | None, echo: Echo,
               progress: Echo | None = None, found: Callable[[Line], object] | None = None) -> int:
    """Print every finding for the tenant's domains (or the one named) and return the exit status:
    0 when nothing would break sign-in, 1 otherwise. `progress` hears what each wait is for
    (the CLI prints it on stderr) before the DNS and clock checks that may take seconds;
    `found` gets each finding as it comes (for `doctor --json`)."""
    say = progress or (lambda _message: None)
    resolvers = settings.dns_resolvers
    if domain_name:
        try:
            rows = [domains_service.get_domain(store, tenant_id, domain_name)]
        except NotFound:
            raise NotFound("domain", N_('"%(domain_name)s" is not a protected domain of this tenant: see `ostiary '
                                        "domain list`, or run `ostiary doctor` without a name to check them all"), domain_name=domain_name) from None
    else:
        rows = domains_service.list_domains(store, tenant_id, limit=100_000)
    apps_by_domain: dict[int, list[Row]] = {}
    for app in apps_service.list_apps(store, tenant_id, limit=100_000):
        apps_by_domain.setdefault(app.domain_id, []).append(app)

    lines: list[Line] = []

    def emit(line: Line) -> None:
        lines.append(line)
        echo(line.render())
        if found is not None:
            found(line)

    if not rows:
        emit(Line("tenant", Finding(
            "protected-domain-exists", False, sign_in_checks.ERROR,
            "this tenant has no protected domain, so no app can be signed in to",
            "register one with `ostiary domain add DOMAIN --portal-host HOST`, then publish its TXT record",
        )))
    with concurrent.futures.ThreadPoolExecutor(MAX_PARALLEL_CHECKS, thread_name_prefix="ostiary-doctor") as pool:
        asked = format_resolvers(resolvers)
        for domain in rows:
            domain_apps = apps_by_domain.get(domain.id, [])
            checks = domain_checks(domain, domain_apps, settings, resolvers)
            say(f"checking {domain.name}: its TXT record, portal host {domain.portal_host}"
                + (f" and {len(domain_apps)} app{'s' if len(domain_apps) != 1 else ''}" if domain_apps else "")
                + f" at {asked} (each lookup up to {settings.dns_timeout:g} s)")
            # map() keeps the order, so each domain's findings print together as they arrive.
            for line in pool.map(lambda check: check(), checks):
                emit(line)
    say("comparing this machine's clock with " + (f"the NTP server {settings.ntp_server} (up to 2 s) and "
                                                   if settings.ntp_server else "") + "the database's")
    emit(Line("clock", sign_in_checks.check_clock(settings.ntp_server or None)))
    emit(Line("clock", database_clock_finding(store)))
    emit(Line("email", mail.check_connection(settings)))
    echo(summary(lines))
    return 1 if any(line.finding.breaks_sign_in for line in lines) else 0


def _public_addresses(settings: Settings) -> list[str]:
    return [a.strip() for a in settings.public_addresses.split(",") if a.strip()]


Check = Callable[[], Line]


def domain_checks(domain: Row, apps: Sequence[Row], settings: Settings, resolvers: Resolvers | None) -> list[Check]:
    """The checks for one domain and its apps, in the order they are printed."""
    name, portal, timeout = domain.name, domain.portal_host, settings.dns_timeout
    state = DomainStatus.FLAGGED if domain.status == DomainStatus.VERIFIED and domain.flagged_at else domain.status
    checks: list[Check] = [
        lambda: Line(name, sign_in_checks.check_portal_host_under_domain(portal, name)),
        lambda: Line(name, sign_in_checks.check_domain_verified(name, state, domain.verified_at, domain.status_reason)),
        lambda: Line(name, sign_in_checks.check_record_present(name, domain.verification_token, resolvers, timeout)),
        lambda: Line(name, _portal_host_reachable(portal, settings, resolvers)),
        lambda: Line(name, sign_in_checks.check_cookie_domain(name, portal)),
    ]
    if domain.shared_cookie:
        checks.append(lambda: Line(name, shared_cookie_finding(domain.shared_cookie)))
    for app in apps:
        subject = f"{name} app {app.name}"
        checks += [
            lambda app=app, subject=subject: Line(
                subject, sign_in_checks.check_host_resolves(app.host, resolvers, timeout, role="app host")
            ),
            lambda app=app, subject=subject: Line(subject, sign_in_checks.check_cookie_domain(name, app.host)),
            lambda app=app, subject=subject: Line(subject, _https_check(app.url, settings.dev)),
        ]
        if app.shared_cookie:
            checks.append(lambda app=app, subject=subject: Line(subject, shared_cookie_finding(app.shared_cookie)))
    return checks


def database_clock_finding(store: Store) -> Finding:
    """This machine's clock against the database's, the clock every instance shares."""

    offset = database_clock_offset(store)
    if offset is None:
        return Finding("database-clock", True, sign_in_checks.INFO,
                       "SQLite: the database's clock is this machine's; nothing to compare")
    if abs(offset) > CLOCK_LEEWAY:
        return Finding("database-clock", False, sign_in_checks.WARNING,
                       f"{describe_offset(offset)} (more than the {CLOCK_LEEWAY} s leeway): cookies and sign-in "
                       "links one instance signs may be refused by another",
                       "synchronise the clocks of every instance and of the database server "
                       "(for example chrony or systemd-timesyncd)")
    return Finding("database-clock", True, sign_in_checks.OK,
                   f"{describe_offset(offset)} (within the {CLOCK_LEEWAY} s leeway)")


def shared_cookie_finding(settings_json: str, environ=None) -> Finding:
    """Whether the shared-cookie source can verify with the secret as this environment has it
    (doctor should run with the servers' environment; docs/shared-cookie.md)."""

    settings = SharedCookieSettings.from_json(settings_json)
    where = f"secret file {settings.secret_file}" if settings.secret_file else settings.secret_env
    source = build_source(settings, environ)
    if isinstance(source, BrokenSource):
        return Finding("identity-source-secret", False, sign_in_checks.ERROR,
                       "identity from the chat's cookie cannot verify, so every request answers 503: "
                       + source.problem.replace("shared-cookie settings refused:\n- ", "").replace("\n- ", "; "),
                       f"give every `ostiary serve` a usable {where} (the chat's own secret, never a published "
                       "default), run this again with the servers' environment, then restart the servers")
    return Finding("identity-source-secret", True, sign_in_checks.OK,
                   f"identity from the chat's cookie {settings.cookie_name}: the secret ({where}) is usable here")


def _portal_host_reachable(portal: str, settings: Settings, resolvers: Resolvers | None) -> Finding:
    """Whether the portal host resolves and, when public addresses are configured, to this instance."""
    resolution = sign_in_checks.resolve_host(portal, resolvers, settings.dns_timeout)
    if not resolution.addresses:
        fix = resolution.fix or f'create an A (or AAAA) record for "{portal}" pointing at the reverse proxy in front of Ostiary'
        return Finding("portal-host-resolves", False, sign_in_checks.ERROR,
                       f'portal host "{portal}" does not resolve: {resolution.problem}', fix)
    public = _public_addresses(settings)
    if public:
        return sign_in_checks.check_resolves_to_instance(portal, resolution.addresses, public)
    return Finding(
        "portal-host-resolves", True, sign_in_checks.OK,
        f'portal host "{portal}" resolves to {", ".join(resolution.addresses)} '
        "(set OSTIARY_PUBLIC_ADDRESSES to check that this is this instance)",
    )


def _https_check(url: str, dev: bool) -> Finding:
    finding = sign_in_checks.check_https(url)
    if finding.ok or not dev or not url.lower().startswith("http://"):
        return finding
    return Finding(
        finding.check, False, sign_in_checks.WARNING,
        f'app URL "{url}" uses http; accepted only because OSTIARY_DEV is on (development mode)',
        f'serve it over https and change the URL to "https://{url.split("://", 1)[1]}" before turning OSTIARY_DEV off',
    )


def summary(lines: Sequence[Line]) -> str:
    errors = sum(1 for line in lines if line.finding.breaks_sign_in)
    warnings = sum(1 for line in lines if line.finding.severity == sign_in_checks.WARNING)
    passed = sum(1 for line in lines if line.finding.severity == sign_in_checks.OK)
    warned = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
    if errors:
        return (f"{errors} problem{'s' if errors != 1 else ''} would break sign-in{warned}; "
                f"{passed} check{'s' if passed != 1 else ''} passed")
    return f"nothing would break sign-in{warned}; {passed} check{'s' if passed != 1 else ''} passed"
