"""What any input may hold, wherever it comes from (forms, query strings,
JSON, path parameters, CLI arguments): one set of rules that the portal's
request guard, the API and the CLI all apply before a service sees the
value, so SQLite and PostgreSQL answer alike (docs/api.md#input-rules)."""

from __future__ import annotations

# A request body larger than this is refused with 413 before it is read.
MAX_BODY_BYTES = 64 * 1024
# An app's URL, its public paths and their number (docs/api.md#limits).
MAX_URL_LENGTH = 2048
MAX_PUBLIC_PATHS = 100
MAX_PUBLIC_PATH_LENGTH = 1024
# JSON nested deeper than this is refused (no request body needs more than 3).
MAX_JSON_DEPTH = 32


def unstorable_character_problem(value: str) -> str | None:
    """NUL cannot be stored in PostgreSQL text (and truncates C strings);
    a lone surrogate (U+D800-U+DFFF) is not a character and cannot be
    encoded as UTF-8 for either database."""
    for ch in value:
        code = ord(ch)
        if code == 0 or 0xD800 <= code <= 0xDFFF:
            return f"must not contain U+{code:04X}, which cannot be stored: remove it"
    return None


def shown(text: str) -> str:
    """`text` safe to echo in a message: unstorable characters as \\uXXXX."""
    return "".join(f"\\u{ord(ch):04x}" if unstorable_character_problem(ch) else ch for ch in text)


def json_problem(value, field: str = "", depth: int = 0) -> tuple[str, str] | None:
    """The first (field, message) in a decoded JSON value that no database
    could store, or that nests too deeply; fields as `public_paths.3`."""
    if depth > MAX_JSON_DEPTH:
        return field or "body", f"is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        problem = unstorable_character_problem(value)
        return (field or "body", problem) if problem else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        name = shown(f"{field}.{key}" if field else str(key))
        if isinstance(key, str) and unstorable_character_problem(key):
            return name, "is not a field: " + unstorable_character_problem(key)
        found = json_problem(item, name, depth + 1)
        if found:
            return found
    return None
