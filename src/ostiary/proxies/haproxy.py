"""HAProxy 2.6+ configuration for one proxy app, and for Ostiary's own hosts.

HAProxy has no forward auth of its own: the check is a Lua action Ostiary
ships (``ostiary/proxies/shipped/ostiary_forward_auth.lua``) that uses only
HAProxy's ``core.httpclient``. It relays Ostiary's refusals (the 302 to sign
in, 401, 403) as they are, so the check is asked in redirect mode. An app's
text has two parts, marked like nginx's: one line for the HTTPS frontend and
the app's backend. See docs/proxies/haproxy.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from ostiary.proxies.facts import AppFacts

LUA_FILE = "ostiary_forward_auth.lua"
LUA_PATH = f"/etc/haproxy/{LUA_FILE}"
FRONTEND_PART_MARKER = "# ---- part 1 of 2: inside your HTTPS frontend, before any default_backend ----"
BACKEND_PART_MARKER = "# ---- part 2 of 2: a backend of its own ----"
APPS_MARKER = "\t# ---- each app's part 1 goes here ----"

# Header names reach HAProxy's rules lowercased. Every spelling a CGI-style
# server folds into HTTP_X_FORWARDED_<NAME> ("-", "_", ".", "~", "+", "!"...).
ALIAS_REGEX = r"^x[^a-z0-9]forwarded[^a-z0-9](user|email|groups|display[^a-z0-9]name)$"


@dataclass(frozen=True)
class HAProxySnippet:
    frontend_part: str
    backend_part: str

    @property
    def text(self) -> str:
        return self.frontend_part + "\n" + self.backend_part


def backend_name(facts: AppFacts) -> str:
    return "ostiary_" + facts.slug.replace("-", "_")


def render_parts(facts: AppFacts) -> HAProxySnippet:
    return HAProxySnippet(_frontend_part(facts), _backend_part(facts))


def render(facts: AppFacts) -> str:
    return render_parts(facts).text


def _frontend_part(facts: AppFacts) -> str:
    host = f"{{ req.hdr(host) -i {facts.external_hostport} }}"
    if facts.path_prefix:
        condition = f"{host} {{ path {facts.path_prefix} }} || {host} {{ path_beg {facts.path_prefix}/ }}"
    else:
        condition = host
    lines = [
        FRONTEND_PART_MARKER,
        f"\t# Ostiary forward auth for {facts.app_name!r}: {facts.external_url}",
        f"\tuse_backend {backend_name(facts)} if {condition}",
    ]
    return "\n".join(lines) + "\n"


def _backend_part(facts: AppFacts) -> str:
    identity = ",".join(facts.header_names) or "-"
    lines = [
        BACKEND_PART_MARKER,
        f"backend {backend_name(facts)}",
        "\t# Only Ostiary sets identity headers: drop every client-sent copy in every spelling",
        "\t# an app server folds into the same variable (X_Forwarded-User, X.Forwarded.User...).",
        f"\thttp-request del-header {ALIAS_REGEX} -m reg",
        "\t# Ask Ostiary (the Lua action in the global section's lua-load); it sets the enabled",
        "\t# identity headers and drops the forward-auth cookie, or answers the browser itself.",
        f"\thttp-request lua.ostiary-check {facts.check_url} {facts.portal_host} {identity}",
        "\t# Fail closed: nothing reaches the app unless the check said 2xx.",
        "\thttp-request deny deny_status 500 unless { var(txn.ostiary_allowed) -m bool }",
        f"\tserver app {facts.upstream_hostport}{' ssl verify required ca-file @system-ca' if facts.upstream_scheme == 'https' else ''}",
    ]
    return "\n".join(lines) + "\n"


def lua_script() -> str:
    """The Lua action, as shipped (``ostiary proxy-file ostiary_forward_auth.lua``)."""
    return resources.files("ostiary.proxies").joinpath("shipped", LUA_FILE).read_text(encoding="utf-8")


def render_ostiary_haproxy(ostiary_upstream: str, *, https_bind: str = ":443", certificates: str = "/etc/haproxy/certs/",
                           lua_path: str = LUA_PATH) -> str:
    """A complete haproxy.cfg skeleton: the Lua action loaded, one HTTPS frontend whose
    default backend is Ostiary (tenant and portal hosts), and the place for the apps' lines."""
    upstream = ostiary_upstream.removeprefix("http://").rstrip("/")
    lines = [
        "# HAProxy in front of Ostiary and its apps (HAProxy 2.6+).",
        "global",
        "\t# Ostiary's forward-auth action: `ostiary proxy-file ostiary_forward_auth.lua`.",
        f"\tlua-load {lua_path}",
        "",
        "defaults",
        "\tmode http",
        "\ttimeout connect 5s",
        "\ttimeout client 60s",
        "\ttimeout server 60s",
        "",
        "frontend https",
        f"\tbind {https_bind} ssl crt {certificates}",
        APPS_MARKER,
        "\t# Everything else is Ostiary's: the tenant host and every portal host.",
        "\tdefault_backend ostiary",
        "",
        "backend ostiary",
        "\t# Ostiary reads the client address and scheme from these (OSTIARY_TRUSTED_PROXIES).",
        "\toption forwardfor",
        "\thttp-request set-header X-Forwarded-Proto https",
        "\thttp-request set-header X-Forwarded-Host %[req.hdr(host)]",
        f"\tserver ostiary {upstream}",
    ]
    return "\n".join(lines) + "\n"


def assemble(ostiary_cfg: str, snippets: list[str]) -> str:
    """Ostiary's haproxy.cfg with each app's two parts pasted where they belong."""
    frontend, backends = [], []
    for text in snippets:
        front, _, back = text.partition(BACKEND_PART_MARKER)
        frontend.append(front.rstrip("\n"))
        backends.append(BACKEND_PART_MARKER + back)
    return ostiary_cfg.replace(APPS_MARKER, APPS_MARKER + "\n" + "\n".join(frontend)) + "\n" + "\n".join(backends)
