"""Alias spellings of the identity headers, as an attacker would send them."""

from __future__ import annotations

from ostiary import wire
from ostiary.proxies.aliases import ALIAS_SEPARATORS

SEPARATORS = "-" + ALIAS_SEPARATORS


def _cases(word: str) -> list[str]:
    return [word, word.upper(), word.lower(), word.swapcase()]


def alias_spellings(header: str) -> list[str]:
    """``header`` (e.g. X-Forwarded-Display-Name) with each separator replaced by every
    separator a CGI-style server folds into "_", one at a time and all at once, in
    several cases, and mixed; never the exact name itself."""
    words = header.split("-")
    out: list[str] = []
    for sep in SEPARATORS:
        for position in range(len(words) - 1):  # one separator changed
            seps = ["-"] * (len(words) - 1)
            seps[position] = sep
            out.append(_join(words, seps))
        out.append(_join(words, [sep] * (len(words) - 1)))  # all changed
    out.append(_join(words, [SEPARATORS[(i + 1) % len(SEPARATORS)] for i in range(len(words) - 1)]))  # mixed
    spelled = [case for name in out for case in _cases(name)]
    exact = {c.lower() for c in _cases(header)}
    return sorted({s for s in spelled if s.lower() not in exact}, key=spelled.index)


def _join(words: list[str], seps: list[str]) -> str:
    text = words[0]
    for sep, word in zip(seps, words[1:]):
        text += sep + word
    return text


ALL_ALIASES = {header: alias_spellings(header) for header in wire.IDENTITY_HEADERS.values()}
