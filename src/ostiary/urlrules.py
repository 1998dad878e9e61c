"""Parsing the external URL of a proxy app and its public-path patterns.
Shared by the service layer (when an admin saves an app) and the gate."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ostiary.hostnames import normalise_hostname


@dataclass(frozen=True)
class AppLocation:
    scheme: str
    host: str
    port: int | None  # None when the scheme's default
    path_prefix: str  # "/" or "/prefix" without a trailing slash

    @property
    def url(self) -> str:
        port = f":{self.port}" if self.port else ""
        path = "" if self.path_prefix == "/" else self.path_prefix
        return f"{self.scheme}://{self.host}{port}{path}"


def parse_app_url(url: str, allow_http: bool) -> tuple[AppLocation | None, str | None]:
    """(location, None) or (None, reason naming the rule and the fix)."""
    url = (url or "").strip()
    if any(ord(c) < 33 or ord(c) == 127 for c in url) or "\\" in url:
        return None, "must not contain spaces, control characters or backslashes"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return None, f"is not a URL ({exc}): use the form https://app.example.com[:port][/prefix]"
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        return None, (
            "must use https (http is only allowed with OSTIARY_DEV=1)" if parts.scheme == "http"
            else "must be an https URL such as https://grafana.example.com"
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None, "must not contain a user name or password"
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return None, "must not contain a query or fragment"
    host = normalise_hostname(parts.hostname or "")
    if host is None or parts.hostname.endswith("."):
        return None, f'"{parts.hostname}" is not a valid host name'
    default_port = 443 if parts.scheme == "https" else 80
    path = parts.path or "/"
    problem = path_pattern_problem(path, allow_wildcard=False)
    if problem:
        return None, f"path {problem}"
    prefix = path.rstrip("/") or "/"
    return AppLocation(parts.scheme, host, None if port in (None, default_port) else port, prefix), None


def path_pattern_problem(pattern: str, allow_wildcard: bool = True) -> str | None:
    if not pattern.startswith("/"):
        return "must start with /"
    if any(c in pattern for c in "%;\\?#") or any(ord(c) < 33 or ord(c) == 127 for c in pattern):
        return "must not contain %, ;, \\, ?, #, spaces or control characters: write the decoded path"
    body = pattern[:-2] if allow_wildcard and pattern.endswith("/*") else pattern
    if "*" in body:
        return 'may only end with "/*" (a prefix) and contain no other "*"'
    segments = body.split("/")
    if any(s in (".", "..") for s in segments) or "//" in body:
        return 'must not contain "." or ".." segments or "//"'
    return None
