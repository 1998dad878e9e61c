"""Request paths as the public-path rules see them."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes


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
