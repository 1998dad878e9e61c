"""Rules about free text that several entities share."""

from __future__ import annotations

import unicodedata

from ostiary.services.base.errors import N_, Message


def control_character_problem(value: str) -> Message | None:
    """Control characters (CR/LF above all) could split a header or a log line."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return Message(N_("must not contain control characters (found U+%(code)s)"), code=f"{ord(ch):04X}")
    return None


def nfc(value: str | None) -> str:
    """Names and logins compared as people see them: "é" typed as one code
    point or as "e" plus a combining accent (NFD, as macOS may send it) is
    the same name. Stored and looked up in NFC; passwords are left as typed."""
    return unicodedata.normalize("NFC", value or "")
