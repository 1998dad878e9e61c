"""Caddyfile site block for one proxy app (Caddy 2.6.2 and 2.11.x, unchanged).

Version notes that shape the text (see docs/proxies/caddy.md):

- Caddy sorts directives; ``request_header`` sorts *after* ``forward_auth``,
  so outside a ``route`` it would delete the identity headers just copied.
  Everything sits in one ``route`` block, which keeps the written order.
- ``copy_headers`` sets each header unconditionally on 2.6 (a literal
  placeholder when the check did not send it, which is why /check always
  sends all four, empty when not enabled) but deletes-then-sets-if-non-empty
  on 2.11. Either way the client's copy would survive for a header the check
  leaves out, so all four identity headers are deleted first.
- Go folds case (``X-FORWARDED-USER`` is ``X-Forwarded-User``) but keeps
  ``X_Forwarded-User`` or ``X.Forwarded.User`` as headers of their own, which
  Caddy 2.6 forwards (2.11 drops some, not all). ``request_header -*_*``
  deletes every header whose name contains ``_`` (prefix and suffix
  wildcards, both versions): one line per separator in
  `ostiary.proxies.aliases.ALIAS_SEPARATORS`, as nginx does by default.
- ``header_up Field <regexp> ""`` (empty replacement) is read as "set the
  field to <regexp>" by 2.6. The replacement here is ``$1`` pointing at an
  empty capture group: empty on both versions.
"""

from __future__ import annotations

from ostiary import wire
from ostiary.proxies.aliases import ALIAS_SEPARATORS
from ostiary.proxies.facts import AppFacts


def cookie_strip_patterns(cookie: str) -> tuple[str, str]:
    """Two RE2 patterns whose ``$1`` replacement removes ``cookie`` from a Cookie header."""
    name = cookie.replace(".", r"\.")
    # 1: the pair and the separator before it; 2: a separator left at the start.
    return rf"(?:^|;\s*){name}=[^;]*()", r"^;\s*()"


def render(facts: AppFacts) -> str:
    remove = list(wire.IDENTITY_HEADERS.values())
    # Quoted: the separators include ` and ' that Caddyfile reads as quotes at a token's start.
    aliases = [f'"-*{c}*"' for c in ALIAS_SEPARATORS]
    lines = [
        f"# Ostiary forward auth for {facts.app_name!r}: {facts.external_url}",
        "# Works unchanged on Caddy 2.6.2 and 2.11.x. Paste as a site block; if this",
        "# host already has one, move the route into it (a second block never runs).",
        "# Behind Caddy, run Ostiary as `ostiary serve --server uvicorn` (docs/proxies/caddy.md).",
        f"{facts.scheme}://{facts.external_hostport} {{",
    ]
    if facts.path_prefix:
        matcher = f"@ostiary_{facts.slug.replace('-', '_')}"
        lines.append(f"\t{matcher} path {facts.path_prefix} {facts.path_prefix}/*")
        lines.append(f"\troute {matcher} {{")
    else:
        lines.append("\troute {")
    inner = "\t\t"
    lines.append(f"{inner}# Only Ostiary may set identity headers: drop every client-sent copy (any case),")
    lines.append(f"{inner}# and every header whose name has a character app servers fold into \"_\"")
    lines.append(f"{inner}# (X_Forwarded-User, X.Forwarded.User... would read as X-Forwarded-User).")
    lines += [f"{inner}request_header -{name}" for name in remove]
    lines += [f"{inner}request_header {alias}" for alias in aliases]
    lines.append("")
    lines.append(f"{inner}# Ask Ostiary; 2xx lets the request through, anything else goes back to the browser.")
    lines.append(f"{inner}forward_auth {facts.ostiary_base} {{")
    lines.append(f"{inner}\turi {wire.CHECK_PATH}")
    lines.append(f"{inner}\t# /check recognises the portal host by the Host header.")
    lines.append(f"{inner}\theader_up Host {facts.portal_host}")
    if facts.header_names:
        lines.append(f"{inner}\tcopy_headers {' '.join(facts.header_names)}")
    if facts.ostiary_scheme == "https" and not facts.reaches_portal_by_name:
        lines.append(f"{inner}\t# Ostiary's certificate names the portal host, not the address dialled.")
        lines.append(f"{inner}\ttransport http {{")
        lines.append(f"{inner}\t\ttls_server_name {facts.portal_hostname}")
        lines.append(f"{inner}\t}}")
    lines.append(f"{inner}}}")
    lines.append("")
    first, second = cookie_strip_patterns(facts.forward_auth_cookie)
    lines.append(f"{inner}reverse_proxy {facts.upstream_url} {{")
    lines.append(f"{inner}\t# The app never sees the forward-auth cookie; other cookies pass.")
    lines.append(f'{inner}\theader_up Cookie "{first}" "$1"')
    lines.append(f'{inner}\theader_up Cookie "{second}" "$1"')
    lines.append(f"{inner}}}")
    lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"
