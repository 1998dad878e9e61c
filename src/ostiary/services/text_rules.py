"""Rules about free text that several entities share."""

from __future__ import annotations

import unicodedata


def control_character_problem(value: str) -> str | None:
    """Control characters (CR/LF above all) could split a header or a log line."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return f"must not contain control characters (found U+{ord(ch):04X})"
    return None
