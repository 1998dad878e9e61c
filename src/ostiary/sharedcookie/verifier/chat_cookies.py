"""A Cookie header read the way the chat reads it: LibreChat parses it with
the npm `cookie` package (0.7), so this follows that parser's rules exactly
(docs/shared-cookie.md, "Exactly as strict as the chat"):

- pairs are split at `;`, the name and value at the first `=`; spaces and
  tabs around them are dropped;
- **the first pair of a name wins** (a later duplicate is ignored);
- a value wrapped in double quotes loses them;
- a value holding `%` is URI-decoded, and kept as it is when that fails.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_BLANK = " \t"
_PERCENT_ESCAPES = re.compile(r"(?:[^%]|%[0-9A-Fa-f]{2})*")


def parse_cookie_header(header: str) -> dict[str, str]:
    """Every cookie of the header, the first value of each name."""
    jar: dict[str, str] = {}
    if len(header) < 2:
        return jar
    index = 0
    while index < len(header):
        equals = header.find("=", index)
        if equals == -1:
            break
        end = header.find(";", index)
        if end == -1:
            end = len(header)
        elif equals > end:
            index = header.rfind(";", 0, equals) + 1  # a pair without "=": skip it
            continue
        name = header[index:equals].strip(_BLANK)
        if name not in jar:
            jar[name] = _decoded(_unquoted(header[equals + 1:end].strip(_BLANK)))
        index = end + 1
    return jar


def _unquoted(value: str) -> str:
    if value[:1] == '"' and value[-1:] == '"':  # a lone '"' becomes empty, as in the chat
        return value[1:-1]
    return value


def _decoded(value: str) -> str:
    """decodeURIComponent, or the value unchanged where it would throw."""
    if "%" not in value or not _PERCENT_ESCAPES.fullmatch(value):
        return value
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value
