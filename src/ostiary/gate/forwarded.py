"""Reading the proxy's subrequest: only the headers docs/contract.md §3 names,
plus the browser's own request-kind signals that decide 302 versus 401."""

from __future__ import annotations

import re
import functools
from dataclasses import dataclass

from ostiary.hostnames import split_host_port
from ostiary.wire import CHECK_PATH, FORWARD_AUTH_COOKIE, STATUS_401_QUERIES

_COOKIE_PREFIX = FORWARD_AUTH_COOKIE + "="
MAX_HEADER = 16384
# A forwarded host as browsers send it: letters, digits, dots and hyphens, an
# optional port. No trailing dot, spaces, userinfo, brackets or lists.
_PLAIN_HOST = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$")


# Not frozen: a frozen dataclass's __init__ costs a microsecond more per /check. Never
# changed after it is made all the same.
@dataclass(slots=True)
class ForwardedRequest:
    portal_host: str | None  # the subrequest's own Host: which portal it was sent to
    proto: str | None
    host: str | None  # the original request's host, normalised
    port: int | None
    raw_host: str  # as forwarded, for rebuilding the URL
    uri: str | None
    method: str
    cookies: tuple[str, ...]  # every forward-auth cookie value, in order
    cookie_header: str  # the whole Cookie header, for a shared-cookie identity source
    navigation: bool
    # The proxy wants "not signed in" as 401 + location even for navigations
    # (wire.STATUS_401_QUERIES; ostiary.proxies.registry.NotSignedIn.STATUS_401).
    answer_401: bool = False


def _cookie_values(header: str) -> tuple[str, ...]:
    if FORWARD_AUTH_COOKIE not in header:
        return ()
    out = []
    for part in header.split(";"):
        part = part.strip()
        if part.startswith(_COOKIE_PREFIX):
            out.append(part[len(_COOKIE_PREFIX):])
    return tuple(out)


# The only request headers /check reads (besides Cookie).
_READ = frozenset({
    b"host", b"x-forwarded-host", b"x-original-url", b"x-forwarded-proto", b"x-forwarded-uri",
    b"x-forwarded-method", b"x-requested-with", b"sec-fetch-mode", b"accept",
})
# ... and with the Cookie header and Accept-Language (read only for the refusal page, in the
# browser's language), everything of a request's headers its answer depends on.
_KEPT = _READ | {b"cookie", b"accept-language"}


def read_headers(raw_headers) -> tuple[tuple[bytes, bytes], ...]:
    """The headers /check reads, in the order they came, duplicates kept: with
    the path and query, the whole input of a check (the key of gate/asgi.py's
    remembered answers), and what parse_forwarded_request needs of them."""
    return tuple([h for h in raw_headers if h[0] in _KEPT])


# The same few hosts arrive on every request: parse each once.
_host_port = functools.lru_cache(maxsize=8192)(split_host_port)


@functools.lru_cache(maxsize=8192)
def _forwarded_host_port(raw_host: str) -> tuple[str, int | None] | None:
    return split_host_port(raw_host) if _PLAIN_HOST.match(raw_host) else None

_ANSWER_401 = STATUS_401_QUERIES
# /forward-auth/check/<portal host>: for proxies that cannot set the Host header
# of their check (Traefik's forwardAuth); see docs/proxies/traefik.md.
_PORTAL_IN_PATH = CHECK_PATH + "/"


def portal_in_path(path: str) -> str | None:
    """The portal host a check path names after ``/forward-auth/check/``, if any."""
    if not path.startswith(_PORTAL_IN_PATH):
        return None
    return path[len(_PORTAL_IN_PATH):] or None


@functools.lru_cache(maxsize=64)
def _answers_401(query_string: bytes) -> bool:
    # The proxy's configuration fixes the check's query: a handful per installation.
    return bool(_ANSWER_401.intersection(query_string.split(b"&")))


def parse_forwarded_request(raw_headers: list[tuple[bytes, bytes]], query_string: bytes,
                            path: str = CHECK_PATH) -> ForwardedRequest:
    """Headers from the ASGI scope. Duplicated singleton headers are refused
    by leaving the field empty (the decision then fails closed). A portal
    host named in the path stands in for the Host header."""
    headers: dict[bytes, bytes] = {}
    duplicated: set[bytes] | None = None
    cookie_parts: list[bytes] = []
    for name, value in raw_headers:
        if name == b"cookie":
            if len(value) <= MAX_HEADER:
                cookie_parts.append(value)
        elif name in _READ:
            if name in headers or len(value) > MAX_HEADER:
                if duplicated is None:
                    duplicated = set()
                duplicated.add(name)
            else:
                headers[name] = value
    single = headers if duplicated is None else {k: v for k, v in headers.items() if k not in duplicated}
    # A missing singleton and an empty one read the same below; so does one that is not ASCII.
    try:
        host_header = single.get(b"host", b"").decode("ascii")
        raw_host = single.get(b"x-forwarded-host", b"").decode("ascii").strip()
        original_url = single.get(b"x-original-url", b"").decode("ascii")
        proto = single.get(b"x-forwarded-proto", b"").decode("ascii").strip().lower() or None
        uri = single.get(b"x-forwarded-uri", b"").decode("ascii")
        method = single.get(b"x-forwarded-method", b"").decode("ascii").strip().upper()
    except UnicodeDecodeError:
        text = {}
        for name, value in single.items():
            try:
                text[name] = value.decode("ascii")
            except UnicodeDecodeError:
                pass
        host_header = text.get(b"host", "")
        raw_host = text.get(b"x-forwarded-host", "").strip()
        original_url = text.get(b"x-original-url", "")
        proto = text.get(b"x-forwarded-proto", "").strip().lower() or None
        uri = text.get(b"x-forwarded-uri", "")
        method = text.get(b"x-forwarded-method", "").strip().upper()
    host_header = portal_in_path(path) or host_header
    portal = _host_port(host_header) if host_header else None
    if not raw_host and original_url:
        # nginx snippets may send only X-Original-URL: scheme://host[:port]/uri
        scheme, sep, rest = original_url.partition("://")
        if sep:
            raw_host, slash, path = rest.partition("/")
            proto, uri = proto or scheme.lower(), uri or slash + path
    host_port = _forwarded_host_port(raw_host)
    if not cookie_parts:
        cookie_header = ""
    elif len(cookie_parts) == 1:
        cookie_header = cookie_parts[0].decode("latin-1")
    else:
        cookie_header = b"; ".join(cookie_parts).decode("latin-1")
    return ForwardedRequest(  # by position: keywords cost a third of a microsecond more per check
        portal[0] if portal else None,  # portal_host
        proto if proto in ("http", "https") else None,  # proto
        host_port[0] if host_port else None,  # host
        host_port[1] if host_port else None,  # port
        raw_host,
        uri if uri.startswith("/") else None,  # uri
        method,
        _cookie_values(cookie_header),  # cookies
        cookie_header,
        # navigation: a top-level GET or HEAD of a page, as only a browser's address bar asks
        (method == "GET" or method == "HEAD") and b"x-requested-with" not in headers
        and headers.get(b"sec-fetch-mode", b"navigate") == b"navigate" and b"text/html" in headers.get(b"accept", b""),
        _answers_401(query_string) if query_string else False,  # answer_401
    )
