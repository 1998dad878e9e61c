"""Read Traefik Docker labels back into the dynamic-configuration dict.

Traefik matches label segments to option names case-insensitively
(``forwardauth.authresponseheaders`` is ``forwardAuth.authResponseHeaders``)
and keeps map keys (router, middleware and header names) as written. This
translator does the same, guided by Traefik's own JSON schema, and refuses
any segment the schema does not know, so a typo in a label is an error here
rather than an option Traefik silently ignores.
"""

from __future__ import annotations

from collections.abc import Mapping


def labels_to_dynamic_config(labels: Mapping[str, str], schema: dict, *, server_host: str) -> dict:
    """Translate ``traefik.http.*`` labels into the file provider's structure.

    ``schema`` is Traefik's dynamic-configuration JSON schema. ``server_host``
    stands in for the container address the Docker provider puts in each
    service's ``servers[].url`` (labels give only ``server.port``/``scheme``).
    """
    config: dict = {}
    servers: dict[tuple[str, ...], dict[str, str]] = {}
    for label, value in labels.items():
        segments = label.split(".")
        if segments[0].lower() != "traefik":
            continue
        rest = segments[1:]
        if [s.lower() for s in rest] == ["enable"]:
            continue
        if not rest or rest[0].lower() != "http":
            raise ValueError(f'label "{label}": only traefik.http.* labels are understood')
        node, target, path = schema["properties"]["http"], config.setdefault("http", {}), ["http"]
        remaining = rest[1:]
        while remaining:
            segment, remaining = remaining[0], remaining[1:]
            if path[-1] == "loadBalancer" and segment.lower() == "server" and len(remaining) == 1:
                servers.setdefault(tuple(path), {})[remaining[0].lower()] = value
                break
            name, node = _child(schema, node, segment, label)
            path.append(name)
            if remaining:
                target = target.setdefault(name, {})
            else:
                target[name] = _leaf(schema, node, value, label)
    for path, server in servers.items():
        unknown = set(server) - {"port", "scheme"}
        if unknown or "port" not in server:
            raise ValueError(f"labels for {'.'.join(path)}: a server needs port (and optionally scheme), got {sorted(server)}")
        target = config
        for name in path:
            target = target.setdefault(name, {})
        target["servers"] = [{"url": f"{server.get('scheme', 'http')}://{server_host}:{server['port']}"}]
    return config


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _child(schema: dict, node: dict, segment: str, label: str) -> tuple[str, dict]:
    node = _resolve(schema, node)
    for candidate in [node, *(_resolve(schema, branch) for branch in node.get("oneOf", []))]:
        for name, child in candidate.get("properties", {}).items():
            if name.lower() == segment.lower():
                return name, child
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return segment, extra
    if node.get("type") == "object" and "properties" not in node and "oneOf" not in node:
        # A free-form object (a plugin's own configuration): names and string values as written.
        return segment, {"type": "string"}
    raise ValueError(f'label "{label}": Traefik has no option "{segment}" there')


def _leaf(schema: dict, node: dict, value: str, label: str) -> object:
    node = _resolve(schema, node)
    kind = node.get("type", "string")
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ValueError(f'label "{label}": expected true or false, got "{value}"')
        return value.lower() == "true"
    if kind in ("integer", "number"):
        return int(value)
    if kind == "array":
        return [item.strip() for item in value.split(",") if item.strip()]
    if kind == "object":
        # e.g. routers.<name>.tls=true: the option is enabled with its defaults.
        if value.lower() != "true":
            raise ValueError(f'label "{label}": a section can only be enabled with "true"')
        return {}
    return value
