"""URL rules shared below the gate and the portal: the external URL of a
proxy app and its public-path patterns (checked when an admin saves an app),
the request paths those patterns are matched against (/check and the `rd`
targets of the handshake), and the one rule for a same-host `next` path
(the portal's sign-in pages and the chat-cookie middlewares)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

from ostiary.hostnames import normalise_hostname
from ostiary.translations import N_, Message


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


def parse_app_url(url: str, allow_http: bool) -> tuple[AppLocation | None, Message | None]:
    """(location, None) or (None, reason naming the rule and the fix; a page translates it)."""
    url = (url or "").strip()
    if any(ord(c) < 33 or ord(c) == 127 for c in url) or "\\" in url:
        return None, Message(N_("must not contain spaces, control characters or backslashes"))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return None, Message(N_("is not a URL (%(error)s): use the form %(form)s"), error=str(exc),
                             form="https://app.example.com[:port][/prefix]")
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        return None, (
            Message(N_("must use https (http is only allowed with OSTIARY_DEV=1)")) if parts.scheme == "http"
            else Message(N_("must be an https URL such as %(example)s"), example="https://grafana.example.com")
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None, Message(N_("must not contain a user name or password"))
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return None, Message(N_("must not contain a query or fragment"))
    host = normalise_hostname(parts.hostname or "")
    if host is None or parts.hostname.endswith("."):
        return None, Message(N_('"%(host)s" is not a valid host name'), host=parts.hostname)
    default_port = 443 if parts.scheme == "https" else 80
    path = parts.path or "/"
    problem = path_pattern_problem(path, allow_wildcard=False)
    if problem:
        return None, Message(N_("path %(problem)s"), problem=problem)
    prefix = path.rstrip("/") or "/"
    return AppLocation(parts.scheme, host, None if port in (None, default_port) else port, prefix), None


def path_pattern_problem(pattern: str, allow_wildcard: bool = True) -> Message | None:
    if not pattern.startswith("/"):
        return Message(N_("must start with /"))
    if any(c in pattern for c in "%;\\?#") or any(ord(c) < 33 or ord(c) == 127 for c in pattern):
        return Message(N_("must not contain %, ;, \\, ?, #, spaces or control characters: write the decoded path"))
    body = pattern[:-2] if allow_wildcard and pattern.endswith("/*") else pattern
    if "*" in body:
        return Message(N_('may only end with "/*" (a prefix) and contain no other "*"'))
    segments = body.split("/")
    if any(s in (".", "..") for s in segments) or "//" in body:
        return Message(N_('must not contain "." or ".." segments or "//"'))
    return None


# --- request paths, as the public-path rules see them --------------------------------------------

# Non-empty segments of unreserved and sub-delimiter characters other than ";",
# none of them "." or "..": such a path decodes and normalises to itself.
_ALREADY_NORMAL = re.compile(r"(?:/(?!\.\.?(?:/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)+/?|/")
# What a request-target can hold anywhere (RFC 9112 section 3.2): printable
# ASCII without "#". A fragment never reaches a server; an upstream that
# re-encodes or normalises such a line may serve another path than the one
# before the "#" (docs/how-it-works.md, "The decision at /check").
_NOT_IN_A_REQUEST_TARGET = re.compile(r"[^\x21-\x22\x24-\x7e]")
# What its path can hold (RFC 3986 section 3.3): "/", unreserved and
# sub-delimiter characters, ":", "@" and percent-encoded octets.
_REQUEST_TARGET_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")


def normalise_request_path(uri: str) -> str | None:
    """The decoded, normalised path of a request URI, or None when the path
    is one that must never count as public nor pick a path-prefix app: a URI
    holding "#" or any other character a request-target cannot hold, `..`
    segments, `;` parameters, backslashes, control characters, invalid
    UTF-8, or percent signs left after one decoding (double encoding). The
    query is never part of it."""
    if _NOT_IN_A_REQUEST_TARGET.search(uri):
        return None
    path = uri.split("?", 1)[0]
    if _ALREADY_NORMAL.fullmatch(path):
        return path  # the common case: nothing to decode, no empty, "." or ".." segment
    if not _REQUEST_TARGET_PATH.fullmatch(path):
        return None
    return _normalise_slowly(path)


def _normalise_slowly(path: str) -> str | None:
    if not path.startswith("/") or ";" in path or "\\" in path:
        return None
    try:
        decoded = unquote_to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "%" in decoded or "\\" in decoded or ";" in decoded:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in decoded):
        return None
    out: list[str] = []
    for segment in decoded.split("/")[1:]:
        if segment == "..":
            return None
        if segment in ("", "."):
            continue
        out.append(segment)
    normalised = "/" + "/".join(out)
    if decoded.endswith("/") and out:
        normalised += "/"
    return normalised


def under_prefix(path: str, prefix: str) -> bool:
    """`prefix` is "/" or "/x/y" without a trailing slash; matches whole segments."""
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def is_public(path: str | None, exact: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    if path is None:
        return False
    if path in exact:
        return True
    return bool(prefixes) and path.startswith(prefixes)


# --- where a page may send the browser next ------------------------------------------------------


def safe_next_path(value: str | None) -> str | None:
    """A path on this same host, or None: never a scheme, another host, a
    `//host` or backslash trick, nor a control character."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
