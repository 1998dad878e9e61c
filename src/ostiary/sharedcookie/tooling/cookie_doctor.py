"""Cookie doctor: what a browser will do with the chat's Set-Cookie lines, and why (docs/contract.md §9).

``diagnose(lines, hosts)`` answers for the hosts that must share the cookie;
the first host (or ``set_by``) is the one whose response carries the lines.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from ostiary.sharedcookie.tooling.setcookie_rewrite import public_suffixes


class Severity(str, enum.Enum):
    BREAKS = "breaks"    # sharing will not work (the CLI exits non-zero)
    WARNING = "warning"  # works in some cases only
    INFO = "info"        # what the browser will do


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    fix: str = ""
    cookie: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class SetCookie:
    """One Set-Cookie line as a browser reads it (RFC 6265bis section 5.6)."""

    raw: str
    name: str
    value: str
    domain: str | None = None       # lower-case, leading dot removed; None means host-only
    path: str | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None    # "strict", "lax", "none" or None when absent or unknown
    partitioned: bool = False
    max_age: int | None = None
    expires: datetime | None = None

    @property
    def clears(self) -> bool:
        """True for the expired copy that deletes the cookie (how sign-out is done)."""
        if self.max_age is not None:
            return self.max_age <= 0
        return self.expires is not None and self.expires <= datetime.now(timezone.utc)


@dataclass(frozen=True)
class Site:
    scheme: str
    host: str

    @property
    def secure(self) -> bool:
        # Browsers treat localhost as a secure context even over http.
        return self.scheme == "https" or self.host == "localhost" or self.host.endswith(".localhost")

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}"


def parse_set_cookie(line: str) -> SetCookie | None:
    """Parse like a browser does (http.cookies drops Partitioned and rejects values browsers keep)."""
    line = line.strip()
    if line.lower().startswith("set-cookie:"):
        line = line[len("set-cookie:"):].strip()
    pair, _, attributes = line.partition(";")
    if "=" not in pair:
        return None
    name, _, value = (part.strip() for part in pair.partition("="))
    if not name:
        return None
    fields: dict[str, object] = {}
    for attribute in attributes.split(";"):
        key, _, val = (part.strip() for part in attribute.partition("="))
        key = key.lower()
        if key == "domain" and val:
            fields["domain"] = val.lstrip(".").lower()
        elif key == "path":
            fields["path"] = val if val.startswith("/") else None
        elif key in ("secure", "httponly", "partitioned"):
            fields[{"secure": "secure", "httponly": "http_only", "partitioned": "partitioned"}[key]] = True
        elif key == "samesite":
            fields["same_site"] = val.lower() if val.lower() in ("strict", "lax", "none") else None
        elif key == "max-age":
            try:
                fields["max_age"] = int(val)
            except ValueError:
                pass
        elif key == "expires":
            try:
                fields["expires"] = parsedate_to_datetime(val)
            except (TypeError, ValueError):
                pass
    return SetCookie(raw=line, name=name, value=value, **fields)  # type: ignore[arg-type]


def parse_site(text: str) -> Site:
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if not parts.hostname:
        raise ValueError(f"host {text!r} is not a host name or URL (e.g. console.example.com)")
    return Site(parts.scheme.lower(), parts.hostname.lower().rstrip("."))


def fetch_set_cookie_lines(url: str, *, follow_redirects: bool = False, verify: bool = True,
                           timeout: float = 10.0) -> list[str]:
    """The Set-Cookie lines of one GET (of every hop when following redirects)."""
    with httpx.Client(follow_redirects=follow_redirects, verify=verify, timeout=timeout) as client:
        response = client.get(url)
    lines: list[str] = []
    for hop in [*response.history, response]:
        lines += hop.headers.get_list("set-cookie")
    return lines


def diagnose(set_cookie_lines: Iterable[str], hosts: Sequence[str], *, set_by: str | None = None,
             cookie_names: Sequence[str] | None = None) -> list[Finding]:
    """Every reason the hosts will or will not share the cookies, most serious first."""
    if not hosts:
        raise ValueError("hosts is empty: name every host that must share the cookie")
    sites = list(dict.fromkeys(parse_site(h) for h in hosts))
    setter = parse_site(set_by) if set_by else sites[0]
    findings = _site_findings(sites)
    cookies = [c for c in (parse_set_cookie(line) for line in set_cookie_lines) if c]
    if cookie_names:
        cookies = [c for c in cookies if c.name in cookie_names]
    if not cookies:
        findings.append(Finding(Severity.BREAKS, "no_set_cookie", f"no Set-Cookie line to check from {setter}",
                                "the chat sets its cookie at sign-in (LibreChat: POST /api/auth/login); copy the "
                                "Set-Cookie line from the browser's network tab and pass it with --set-cookie"))
    for cookie in cookies:
        findings += _cookie_findings(cookie, setter, sites)
    findings += _sign_out_findings(cookies)
    order = {Severity.BREAKS: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(findings, key=lambda f: order[f.severity])


def breaks_sharing(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.BREAKS for f in findings)


def render_findings(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        subject = " ".join(x for x in (f.cookie and f"cookie {f.cookie}", f.host and f"on {f.host}") if x)
        lines.append(f"{f.severity.value.upper():8}{f.code}{' (' + subject + ')' if subject else ''}")
        lines.append(f"        {f.message}")
        if f.fix:
            lines.append(f"        fix: {f.fix}")
    verdict = ("sharing will break: fix every BREAKS finding above" if breaks_sharing(findings)
               else "sharing will work for these hosts")
    return "\n".join(lines + [verdict]) + "\n"


def _registrable(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return public_suffixes().privatesuffix(host) or host


def _site_findings(sites: list[Site]) -> list[Finding]:
    findings = []
    domains = sorted({_registrable(s.host) for s in sites})
    if len(domains) > 1:
        findings.append(Finding(
            Severity.BREAKS, "separate_registrable_domains",
            f"the hosts sit on separate registrable domains ({', '.join(domains)}): no cookie can ever be "
            f"sent to both, whatever its Domain",
            "gate the hosts on other domains with Ostiary's forward-auth handshake (docs/contract.md §2), "
            "or move them under one domain"))
    if len({s.scheme for s in sites}) > 1:
        findings.append(Finding(
            Severity.WARNING, "mixed_schemes",
            "the hosts mix http and https: browsers treat http and https as different sites, so SameSite "
            "cookies are held back on requests between them and Secure cookies never reach the http hosts",
            "serve every host over https"))
    return findings


def _cookie_findings(cookie: SetCookie, setter: Site, sites: list[Site]) -> list[Finding]:
    refused = _refusal(cookie, setter)
    if refused:
        return [refused]
    findings: list[Finding] = []
    receivers = []
    # A clearing line delivers nothing; _sign_out_findings checks that it hits the shared copy.
    for site in ([] if cookie.clears else sites):
        problem = _delivery_problem(cookie, setter, site)
        if problem:
            findings.append(problem)
        else:
            receivers.append(site)
    siblings = {s.host for s in sites} - {setter.host}
    if cookie.same_site == "strict" and siblings and not cookie.clears:
        findings.append(Finding(
            Severity.BREAKS, "samesite_strict_from_outside_links",
            "SameSite=Strict: a link on any other site (a mail, a chat message, a search result) "
            f"to {', '.join(sorted(siblings))} arrives without the cookie, so the first page "
            "looks signed out", "have the proxy rewrite SameSite=Strict to SameSite=Lax (the sibling-"
            "subdomain snippet does), or use the same-origin layout", cookie.name))
    if cookie.same_site is None and not cookie.clears:
        findings.append(Finding(Severity.INFO, "samesite_default_lax",
                                "no valid SameSite: browsers treat it as Lax (sent on top-level links from "
                                "other sites, held back on their subrequests)", "", cookie.name))
    if cookie.path not in (None, "/"):
        findings.append(Finding(Severity.WARNING, "path_limited",
                                f"Path={cookie.path}: the cookie is only sent under that path",
                                "set Path=/ so every console path receives it", cookie.name))
    if not cookie.clears:
        sent = ", ".join(str(s) for s in receivers) or "no host"
        findings.append(Finding(Severity.INFO, "delivery", f"the browser will send it to: {sent}", "", cookie.name))
    return findings


def _refusal(cookie: SetCookie, setter: Site) -> Finding | None:
    """Why the browser throws the line away entirely, or None."""
    def refused(code: str, message: str, fix: str) -> Finding:
        return Finding(Severity.BREAKS, code, f"the browser rejects this Set-Cookie: {message}", fix,
                       cookie.name, setter.host)

    if cookie.domain:
        if public_suffixes().is_public(cookie.domain) and cookie.domain != setter.host:
            return refused("domain_public_suffix", f"Domain={cookie.domain} is a public suffix (anyone can "
                           "register a name under it), so no site may set cookies for all of it",
                           f"use Domain=<your registrable domain>, e.g. {_registrable(setter.host)}")
        if setter.host != cookie.domain and not setter.host.endswith("." + cookie.domain):
            return refused("domain_not_matching_setter", f"Domain={cookie.domain} does not cover {setter.host}, "
                           "the host that sent it", f"set Domain to a parent of {setter.host}")
    if cookie.secure and not setter.secure:
        return refused("secure_from_http", f"Secure cookies cannot be set over http ({setter})",
                       "serve the chat over https")
    if cookie.name.startswith("__Host-") and (not cookie.secure or cookie.domain or cookie.path != "/"):
        return refused("host_prefix_rules", "a __Host- cookie must have Secure, Path=/ and no Domain",
                       "drop Domain= (and accept that __Host- cookies stay on one host) or rename the cookie")
    if cookie.name.startswith("__Secure-") and not cookie.secure:
        return refused("secure_prefix_rules", "a __Secure- cookie must have Secure", "add Secure")
    if cookie.same_site == "none" and not cookie.secure:
        return refused("samesite_none_without_secure", "SameSite=None requires Secure",
                       "add Secure, or use SameSite=Lax")
    return None


def _delivery_problem(cookie: SetCookie, setter: Site, site: Site) -> Finding | None:
    if cookie.domain is None and site.host != setter.host:
        prefix_note = (" A __Host- cookie can never carry Domain=, so only the same-origin layout can share it."
                       if cookie.name.startswith("__Host-") else "")
        return Finding(Severity.BREAKS, "host_only_not_shared",
                       f"no Domain attribute: the cookie is host-only, kept for {setter.host} alone, so "
                       f"{site.host} never receives it.{prefix_note}",
                       f"have the proxy add Domain={_registrable(setter.host)} to the chat's Set-Cookie (the "
                       "sibling-subdomain snippet does), or serve the console under a path of "
                       f"{setter.host} (same-origin layout)", cookie.name, site.host)
    if cookie.domain is not None and site.host != cookie.domain and not site.host.endswith("." + cookie.domain):
        return Finding(Severity.BREAKS, "domain_not_covering_host",
                       f"Domain={cookie.domain} does not cover {site.host}, so it never receives the cookie",
                       f"set Domain to a parent of every host (e.g. {_registrable(site.host)}) or move "
                       f"{site.host} under {cookie.domain}", cookie.name, site.host)
    if cookie.secure and not site.secure:
        return Finding(Severity.BREAKS, "secure_over_http",
                       f"the cookie is Secure and {site} is plain http, so it is never sent there",
                       f"serve {site.host} over https", cookie.name, site.host)
    return None


def _sign_out_findings(cookies: list[SetCookie]) -> list[Finding]:
    findings = []
    for cleared in (c for c in cookies if c.clears):
        for live in (c for c in cookies if c.name == cleared.name and not c.clears):
            if live.domain != cleared.domain or (live.path or "/") != (cleared.path or "/"):
                where = f"Domain={cleared.domain}" if cleared.domain else "host-only"
                findings.append(Finding(
                    Severity.BREAKS, "sign_out_misses_shared_cookie",
                    f"the sign-out line clears a {where} cookie, but the cookie was set with "
                    f"Domain={live.domain or '(host-only)'}, Path={live.path or '/'}: the shared copy survives "
                    "sign-out on every sibling", "rewrite the clearing Set-Cookie the same way as the one that "
                    "sets it (the sibling-subdomain snippet does)", cleared.name))
    return findings
