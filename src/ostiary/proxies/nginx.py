"""nginx configuration for one proxy app: an http-level part and a server block.

nginx's ``auth_request`` passes only 2xx, 401 and 403 on (anything else is a
500), so it cannot relay the check's 302. The subrequest therefore asks with
``?not-signed-in=401`` (the registry's STATUS_401 mode): Ostiary answers "not
signed in" with 401, the target in ``X-Ostiary-Location`` and, for a page
navigation, ``X-Ostiary-Navigation: 1``. A named location turns that into the
302; XHR, fetch and POST get the 401 with the location, as through Caddy. An
outage of Ostiary stays a 500, never "sign in".

``map`` and ``upstream`` are only valid inside ``http { }``, so the text has
two parts, marked by comments; both are needed, each once per app (all names
carry the app's slug, so several apps' snippets can sit side by side).
"""

from __future__ import annotations

from dataclasses import dataclass

from ostiary import wire
from ostiary.proxies.facts import AppFacts
from ostiary.wire import STATUS_401_QUERY

CHECK_LOCATION = "/_ostiary_check"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HTTP_PART_MARKER = "# ---- part 1 of 2: inside http { } ----"
SERVER_PART_MARKER = "# ---- part 2 of 2: the server block (also inside http { }) ----"


@dataclass(frozen=True)
class NginxSnippet:
    http_part: str
    server_part: str

    @property
    def text(self) -> str:
        return self.http_part + "\n" + self.server_part


def _var(facts: AppFacts, name: str) -> str:
    return f"ostiary_{facts.slug.replace('-', '_')}_{name}"


def _header_var(header: str) -> str:
    return "ostiary_" + header.lower().removeprefix("x-forwarded-").replace("-", "_")


def render_parts(facts: AppFacts) -> NginxSnippet:
    return NginxSnippet(_http_part(facts), _server_part(facts))


def render(facts: AppFacts) -> str:
    return render_parts(facts).text


def _http_part(facts: AppFacts) -> str:
    cookie = facts.forward_auth_cookie.replace(".", r"\.")
    once, twice, clean = _var(facts, "cookie_1"), _var(facts, "cookie_2"), _var(facts, "cookie")
    a, b = _var(facts, "a"), _var(facts, "b")
    c, d = _var(facts, "c"), _var(facts, "d")
    lines = [
        HTTP_PART_MARKER,
        f"# Ostiary forward auth for {facts.app_name!r}: {facts.external_url}",
        f"# The Cookie header without {facts.forward_auth_cookie}: each map removes one copy",
        "# (a browser may hold two, e.g. for nested protected domains); if a third",
        "# remains, the app gets no cookies at all rather than Ostiary's.",
        f"map $http_cookie ${once} {{",
        "\tdefault $http_cookie;",
        f'\t"~^(?<{a}>.+?);\\s*{cookie}=[^;]*(?<{b}>.*)$" "${a}${b}";',
        f'\t"~^{cookie}=[^;]*(?:;\\s*)?(?<{b}>.*)$" "${b}";',
        "}",
        f"map ${once} ${twice} {{",
        f"\tdefault ${once};",
        f'\t"~^(?<{c}>.+?);\\s*{cookie}=[^;]*(?<{d}>.*)$" "${c}${d}";',
        f'\t"~^{cookie}=[^;]*(?:;\\s*)?(?<{d}>.*)$" "${d}";',
        "}",
        f"map ${twice} ${clean} {{",
        f"\tdefault ${twice};",
        f'\t"~(^|;\\s*){cookie}=" "";',
        "}",
        "",
        "# Ostiary, reached with keep-alive connections for the check subrequests; behind",
        "# nginx, run it as `ostiary serve --server uvicorn` (docs/proxies/nginx.md, \"Performance\").",
        f"upstream {_var(facts, 'upstream')} {{",
        f"\tserver {facts.ostiary_hostport};",
        "\tkeepalive 16;",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _server_part(facts: AppFacts) -> str:
    host = f"$host:{facts.port}" if facts.port else "$host"
    lines = [
        SERVER_PART_MARKER,
        "server {",
        f"\tlisten {facts.listen_port}{' ssl' if facts.scheme == 'https' else ''};",
        f"\tserver_name {facts.host};",
    ]
    if facts.scheme == "https":
        lines += [
            f"\tssl_certificate {facts.nginx_certificate};",
            f"\tssl_certificate_key {facts.nginx_certificate_key};",
        ]
    lines += [
        "",
        "\t# nginx's defaults, stated because they matter: headers with '_' (X_Forwarded_User)",
        "\t# are dropped, so no app server can mistake them for X-Forwarded-User.",
        "\tunderscores_in_headers off;",
        "\tignore_invalid_headers on;",
        "",
        f"\tlocation {_app_location(facts)} {{",
        f"\t\tauth_request {CHECK_LOCATION};",
    ]
    for header in facts.header_names:
        lines.append(f"\t\tauth_request_set ${_header_var(header)} $upstream_http_{header.lower().replace('-', '_')};")
    location_var = "$upstream_http_" + wire.LOCATION_HEADER.lower().replace("-", "_")
    navigation_var = "$upstream_http_" + wire.NAVIGATION_HEADER.lower().replace("-", "_")
    not_signed_in = f"@ostiary_{facts.slug.replace('-', '_')}_not_signed_in"
    refused = f"@ostiary_{facts.slug.replace('-', '_')}_refused"
    lines += [
        f"\t\tauth_request_set $ostiary_location {location_var};",
        f"\t\tauth_request_set $ostiary_navigation {navigation_var};",
        "\t\t# Not signed in: the check said 401 with the sign-in URL (see the named location).",
        f"\t\terror_page 401 = {not_signed_in};",
        "\t\t# No access: nginx would show its own 403 page; show Ostiary's instead (who you are,",
        "\t\t# who to ask, another account), drawn by the same check (see the named location).",
        f"\t\terror_page 403 = {refused};",
        "",
        f"\t\tproxy_pass {facts.upstream_url};",
        "\t\tproxy_set_header Host $host;",
        "\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "\t\tproxy_set_header X-Forwarded-Proto $scheme;",
        f"\t\tproxy_set_header X-Forwarded-Host {host};",
        "\t\t# Setting a header replaces every client-sent copy; an empty value sends none.",
    ]
    for header in facts.header_names:
        lines.append(f"\t\tproxy_set_header {header} ${_header_var(header)};")
    for header in facts.disabled_header_names:
        lines.append(f'\t\tproxy_set_header {header} "";')
    lines += [
        f"\t\tproxy_set_header Cookie ${_var(facts, 'cookie')};",
        "\t}",
        "",
        f"\tlocation {not_signed_in} {{",
        "\t\t# A page navigation goes to the sign-in page; XHR, fetch and POST get the 401",
        "\t\t# with the sign-in URL in X-Ostiary-Location, as through Caddy.",
        "\t\tif ($ostiary_navigation) {",
        "\t\t\treturn 302 $ostiary_location;",
        "\t\t}",
        f"\t\tadd_header {wire.LOCATION_HEADER} $ostiary_location always;",
        "\t\treturn 401;",
        "\t}",
        "",
        f"\tlocation {refused} {{",
        "\t\t# The check again, its answer passed to the browser as it is: for a page it is",
        "\t\t# Ostiary's 403 page, for anything else the short text (docs/proxies/nginx.md).",
        *_check_lines(facts, named=True),
        "\t}",
        "",
        f"\tlocation = {CHECK_LOCATION} {{",
        "\t\tinternal;",
        "\t\t# Asked as HEAD: the answer has no body, so nginx keeps the connection after a",
        "\t\t# refusal too (it closes one whose body it did not read). X-Forwarded-Method",
        "\t\t# below carries the request's own method.",
        "\t\tproxy_method HEAD;",
        *_check_lines(facts),
    ]
    lines += ["\t}", "}"]
    return "\n".join(lines) + "\n"


def _check_lines(facts: AppFacts, named: bool = False) -> list[str]:
    """How a location asks Ostiary's check about the request it serves."""
    host = f"$host:{facts.port}" if facts.port else "$host"
    upstream = f"{facts.ostiary_scheme}://{_var(facts, 'upstream')}"
    if named:
        # A named location's proxy_pass takes no URI: rewrite to the check's (the trailing
        # "?" keeps the request's own query off; $request_uri stays the original).
        lines = [f"\t\trewrite ^ {wire.CHECK_PATH}?{STATUS_401_QUERY}? break;", f"\t\tproxy_pass {upstream};"]
    else:
        lines = [f"\t\tproxy_pass {upstream}{wire.CHECK_PATH}?{STATUS_401_QUERY};"]
    lines += [
        "\t\tproxy_http_version 1.1;",
        '\t\tproxy_set_header Connection "";',
        "\t\tproxy_pass_request_body off;",
        '\t\tproxy_set_header Content-Length "";',
        "\t\t# /check recognises the portal host by the Host header.",
        f"\t\tproxy_set_header Host {facts.portal_host};",
        f"\t\tproxy_set_header X-Forwarded-Host {host};",
        "\t\tproxy_set_header X-Forwarded-Proto $scheme;",
        "\t\tproxy_set_header X-Forwarded-Uri $request_uri;",
        "\t\tproxy_set_header X-Forwarded-Method $request_method;",
        f"\t\tproxy_set_header X-Original-URL $scheme://{host}$request_uri;",
        "\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "\t\t# The browser's Cookie header (with the forward-auth cookie) passes unchanged.",
    ]
    if facts.ostiary_scheme == "https":
        lines += [
            "\t\tproxy_ssl_server_name on;",
            f"\t\tproxy_ssl_name {facts.portal_hostname};",
            "\t\tproxy_ssl_verify on;",
            f"\t\tproxy_ssl_trusted_certificate {SYSTEM_CA_BUNDLE};",
        ]
    return lines


def _app_location(facts: AppFacts) -> str:
    if not facts.path_prefix:
        return "/"
    # Matches /prefix and /prefix/..., never /prefixother.
    return f"~ ^{facts.path_prefix.replace('.', chr(92) + '.')}(/|$)"


def render_ostiary_server(hosts: list[str], ostiary_upstream: str, *, listen: str = "443",
                          certificate: str = "/etc/ssl/ostiary/fullchain.pem",
                          certificate_key: str = "/etc/ssl/ostiary/privkey.pem") -> str:
    """The server block for Ostiary's own hosts: the tenant host and every portal host."""
    upstream = ostiary_upstream.removeprefix("http://").rstrip("/")
    lines = [
        "# Ostiary's own hosts: the tenant host and every portal host (inside http { }).",
        "server {",
        f"\tlisten {listen} ssl;",
        f"\tserver_name {' '.join(hosts)};",
        f"\tssl_certificate {certificate};",
        f"\tssl_certificate_key {certificate_key};",
        "",
        "\tlocation / {",
        f"\t\tproxy_pass http://{upstream};",
        "\t\tproxy_http_version 1.1;",
        '\t\tproxy_set_header Connection "";',
        "\t\tproxy_set_header Host $host;",
        "\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "\t\tproxy_set_header X-Forwarded-Proto $scheme;",
        "\t\tproxy_set_header X-Forwarded-Host $host;",
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"
