"""Host names as Ostiary compares them: lowercase, no trailing dot, IDNA
A-labels, port split off. One function so the gate, the portal and the
services can never disagree about which host a request names."""

from __future__ import annotations

import re

import idna

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_hostname(name: str) -> str | None:
    """Lowercase ASCII host name, or None when it is not a valid DNS name."""
    if not name or len(name) > 253 + 1:
        return None
    name = name.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        name = to_a_labels(name)
        if name is None:
            return None
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return None
    return name


def to_a_labels(name: str) -> str | None:
    """The one conversion of an internationalised name to its xn-- form
    (UTS 46 with IDNA 2008, the `idna` package), for every host name Ostiary
    reads: domains, portal hosts, app URLs, forwarded hosts. Python's own
    "idna" codec is IDNA 2003 and turns "straße" into "strasse"."""
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None


def split_host_port(value: str) -> tuple[str, int | None] | None:
    """`host[:port]` → (normalised host, port). IPv6 literals are not app hosts."""
    if not value or value.startswith("["):
        return None
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port = value, None
    else:
        if not port_text.isdigit() or len(port_text) > 5:
            return None
        port = int(port_text)
        if not 0 < port < 65536:
            return None
    norm = normalise_hostname(host)
    return (norm, port) if norm else None


def is_under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)
