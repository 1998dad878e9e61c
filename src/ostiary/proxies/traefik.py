"""Traefik v3 configuration for one proxy app: file-provider YAML and Docker labels.

Both come from one dict (`dynamic_config`), so they cannot drift apart;
`ostiary.proxies.traefik_labels.labels_to_dynamic_config` reads labels back
into that dict for the tests.

Traefik cannot remove one cookie from the Cookie header by itself (its
headers middleware only sets or deletes whole headers), so Ostiary ships a
small middleware as source, loaded as a *local plugin* that Traefik
interprets itself (``experimental.localPlugins``, nothing downloaded):
``ostiary/proxies/shipped/traefik_plugin``. The snippet's last middleware
uses it to drop the forward-auth cookie before the app.

The check goes straight to Ostiary (``OSTIARY_PROXY_UPSTREAM``), never back
through Traefik's own public entry point, which does not trust Traefik's
check and would delete ``X-Forwarded-Uri``. Traefik cannot set the Host header
of its check, so the address names the portal host in its path:
``/forward-auth/check/<portal host>``. Alias spellings of identity headers
(``X_Forwarded-User``) are removed by the entry point's
``http.aliasHeadersStrategy: delete`` (Traefik >= 3.7.12), which the static
configuration must set (`static_config`).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ostiary import wire
from ostiary.proxies.facts import AppFacts

ENTRY_POINT = "websecure"
# The local plugin: its name in the static configuration and its Go module path.
PLUGIN_NAME = "ostiary"
PLUGIN_MODULE = "github.com/ostiary/ostiarycookie"
_PLUGIN_FILES = ("ostiarycookie.go", "go.mod", ".traefik.yml")
# What /check reads from the browser's request besides the X-Forwarded-* Traefik writes.
AUTH_REQUEST_HEADERS = ("Cookie", "Accept", "Sec-Fetch-Mode", "X-Requested-With")
# Ostiary's refusals are a line of text; anything longer is not Ostiary's.
MAX_RESPONSE_BODY = 65536


def check_address(facts: AppFacts) -> str:
    """Ostiary's check at the address Traefik reaches it, naming the portal host in the path."""
    return f"{facts.check_url}/{facts.portal_host}"


def names(facts: AppFacts) -> dict[str, str]:
    """Router, service and middleware names used for this app."""
    slug = facts.slug
    return {
        "router": slug,
        "service": slug,
        "strip": f"ostiary-{slug}-strip",
        "auth": f"ostiary-{slug}-auth",
        "cookie": f"ostiary-{slug}-cookie",
    }


def _rule(facts: AppFacts) -> str:
    rule = f"Host(`{facts.host}`)"
    if facts.path_prefix:
        rule += f" && (Path(`{facts.path_prefix}`) || PathPrefix(`{facts.path_prefix}/`))"
    return rule


def dynamic_config(facts: AppFacts) -> dict:
    """The dynamic configuration as a plain dict (what the YAML and labels express)."""
    n = names(facts)
    strip = {name: "" for name in wire.IDENTITY_HEADERS.values()}
    auth: dict = {
        "address": check_address(facts),
        "trustForwardHeader": False,
        "authRequestHeaders": list(AUTH_REQUEST_HEADERS),
        "maxResponseBodySize": MAX_RESPONSE_BODY,
    }
    if facts.header_names:
        auth["authResponseHeaders"] = list(facts.header_names)
    router: dict = {
        "rule": _rule(facts),
        "entryPoints": [ENTRY_POINT],
        "middlewares": [n["strip"], n["auth"], n["cookie"]],
        "service": n["service"],
    }
    if facts.scheme == "https":
        router["tls"] = {}
    return {
        "http": {
            "routers": {n["router"]: router},
            "middlewares": {
                n["strip"]: {"headers": {"customRequestHeaders": strip}},
                n["auth"]: {"forwardAuth": auth},
                n["cookie"]: {"plugin": {PLUGIN_NAME: {"stripCookies": facts.forward_auth_cookie}}},
            },
            "services": {n["service"]: {"loadBalancer": {"servers": [{"url": facts.upstream_url}]}}},
        }
    }


def _q(value: object) -> str:
    # JSON scalars are valid YAML flow scalars, and quote everything that needs it.
    return json.dumps(value, ensure_ascii=False)


def render(facts: AppFacts) -> str:
    """File-provider YAML, commented."""
    config = dynamic_config(facts)["http"]
    n = names(facts)
    router = config["routers"][n["router"]]
    strip = config["middlewares"][n["strip"]]["headers"]["customRequestHeaders"]
    auth = config["middlewares"][n["auth"]]["forwardAuth"]
    lines = [
        f"# Ostiary forward auth for {facts.app_name!r}: {facts.external_url}",
        "# Traefik v3 dynamic configuration (file provider). Needs Ostiary's static",
        "# configuration: `ostiary snippet --ostiary --proxy traefik` (entry point, local plugin).",
        "http:",
        "  routers:",
        f"    {n['router']}:",
        f"      rule: {_q(router['rule'])}",
        f"      # Your HTTPS entry point; its static configuration must say",
        "      # http: {aliasHeadersStrategy: delete} (Traefik >= 3.7.12).",
        f"      entryPoints: [{_q(ENTRY_POINT)}]",
        "      # Order matters: strip client copies, ask Ostiary, then drop its cookie.",
        f"      middlewares: [{_q(n['strip'])}, {_q(n['auth'])}, {_q(n['cookie'])}]",
        f"      service: {_q(n['service'])}",
    ]
    if "tls" in router:
        lines.append("      tls: {}")
    lines += [
        "  middlewares:",
        f"    {n['strip']}:",
        "      headers:",
        "        # An empty value removes the header (any case): only Ostiary may set identity",
        "        # headers. Spellings like X_Forwarded-User go at the entry point (aliasHeadersStrategy).",
        "        customRequestHeaders:",
    ]
    lines += [f"          {name}: {_q(value)}" for name, value in strip.items()]
    lines += [
        f"    {n['auth']}:",
        "      forwardAuth:",
        "        # Straight to Ostiary, never through this Traefik's public entry point (it would",
        "        # delete X-Forwarded-Uri); the path names the portal host, as Host cannot.",
        f"        address: {_q(auth['address'])}",
        "        # Traefik writes X-Forwarded-* for the check itself instead of passing on",
        "        # whatever the client (or an untrusted hop) sent.",
        "        trustForwardHeader: false",
        "        # Only what Ostiary reads: the cookies and the request-kind headers.",
        f"        authRequestHeaders: [{', '.join(_q(h) for h in auth['authRequestHeaders'])}]",
        "        # Ostiary's refusals are short; a longer body is not Ostiary's answer.",
        f"        maxResponseBodySize: {auth['maxResponseBodySize']}",
    ]
    if "authResponseHeaders" in auth:
        lines.append("        # Copied from Ostiary's answer; client copies are replaced.")
        lines.append(f"        authResponseHeaders: [{', '.join(_q(h) for h in auth['authResponseHeaders'])}]")
    lines += [
        f"    {n['cookie']}:",
        "      # Ostiary's local plugin: the app never sees the forward-auth cookie; other cookies pass.",
        "      plugin:",
        f"        {PLUGIN_NAME}:",
        f"          stripCookies: {_q(facts.forward_auth_cookie)}",
        "  services:",
        f"    {n['service']}:",
        "      loadBalancer:",
        "        servers:",
        f"          - url: {_q(facts.upstream_url)}  # your app",
    ]
    return "\n".join(lines) + "\n"


def labels(facts: AppFacts) -> dict[str, str]:
    """Docker labels (insertion-ordered) expressing `dynamic_config` for the app's container."""
    n = names(facts)
    config = dynamic_config(facts)["http"]
    router = config["routers"][n["router"]]
    strip = config["middlewares"][n["strip"]]["headers"]["customRequestHeaders"]
    auth = config["middlewares"][n["auth"]]["forwardAuth"]
    r = f"traefik.http.routers.{n['router']}"
    s = f"traefik.http.middlewares.{n['strip']}.headers.customrequestheaders"
    a = f"traefik.http.middlewares.{n['auth']}.forwardauth"
    out = {
        "traefik.enable": "true",
        f"{r}.rule": router["rule"],
        f"{r}.entrypoints": ",".join(router["entryPoints"]),
        f"{r}.middlewares": ",".join(router["middlewares"]),
        f"{r}.service": router["service"],
    }
    if "tls" in router:
        out[f"{r}.tls"] = "true"
    out.update({f"{s}.{name}": value for name, value in strip.items()})
    out[f"{a}.address"] = auth["address"]
    out[f"{a}.trustForwardHeader"] = "false"
    out[f"{a}.authRequestHeaders"] = ",".join(auth["authRequestHeaders"])
    out[f"{a}.maxResponseBodySize"] = str(auth["maxResponseBodySize"])
    if "authResponseHeaders" in auth:
        out[f"{a}.authResponseHeaders"] = ",".join(auth["authResponseHeaders"])
    out[f"traefik.http.middlewares.{n['cookie']}.plugin.{PLUGIN_NAME}.stripCookies"] = facts.forward_auth_cookie
    svc = f"traefik.http.services.{n['service']}.loadbalancer.server"
    if facts.upstream_scheme != "http":
        out[f"{svc}.scheme"] = facts.upstream_scheme
    out[f"{svc}.port"] = str(facts.upstream_port)
    return out


def render_labels(facts: AppFacts) -> str:
    """Docker Compose ``labels:`` list for the app's container."""
    lines = [
        f"# Ostiary forward auth for {facts.app_name!r}: {facts.external_url}",
        "# Docker labels for the app's container (Traefik v3, Docker provider). Needs",
        "# Ostiary's static configuration: `ostiary snippet --ostiary --proxy traefik`.",
        "labels:",
    ]
    lines += [f"  - {_q(f'{key}={value}')}" for key, value in labels(facts).items()]
    return "\n".join(lines) + "\n"


def plugin_source() -> dict[str, str]:
    """The local plugin's files (name -> text), as shipped."""
    folder = resources.files("ostiary.proxies").joinpath("shipped", "traefik_plugin")
    return {name: folder.joinpath(name).read_text(encoding="utf-8") for name in _PLUGIN_FILES}


def write_plugin(directory: str | Path) -> Path:
    """Write the plugin where Traefik looks for it: ``<directory>/plugins-local/src/<module>/``.

    ``directory`` is Traefik's working directory (``/`` in the official image)."""
    target = Path(directory) / "plugins-local" / "src" / PLUGIN_MODULE
    target.mkdir(parents=True, exist_ok=True)
    for name, text in plugin_source().items():
        (target / name).write_text(text, encoding="utf-8")
    return target


def middleware_crds(facts: AppFacts, namespace: str = "default") -> str:
    """The snippet's three middlewares as Traefik's Kubernetes ``Middleware``
    resources (traefik.io/v1alpha1), from the same `dynamic_config`; an
    IngressRoute lists them in the same order (docs/proxies/kubernetes.md)."""
    import yaml

    config = dynamic_config(facts)["http"]
    n = names(facts)
    documents = [
        {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
         "metadata": {"name": name, "namespace": namespace}, "spec": config["middlewares"][name]}
        for name in (n["strip"], n["auth"], n["cookie"])
    ]
    header = f"# Ostiary forward auth for {facts.app_name!r}: {facts.external_url} (Traefik CRDs)\n"
    return header + yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False, allow_unicode=True)
