"""Layering, checked: the gate never imports the database layer, and the
portal reaches the database only through the service layer."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "ostiary"


def _imports(package: str) -> dict[str, set[str]]:
    found = {}
    for path in (SRC / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(SRC))] = names
    return found


def test_the_gate_imports_no_database_layer():
    for module, names in _imports("gate").items():
        bad = {n for n in names if n.startswith(("sqlalchemy", "ostiary.store", "ostiary.services", "psycopg", "sqlite3"))}
        assert not bad, f"{module} imports {bad}"


def test_the_portal_never_touches_tables_directly():
    """The portal may hold a Store handle to pass to services, and catch the
    database's exceptions; it never builds a query or names a table."""
    allowed = {"ostiary.store", "sqlalchemy.exc"}
    for module, names in _imports("portal").items():
        bad = {n for n in names if n.startswith(("sqlalchemy", "ostiary.store", "psycopg", "sqlite3")) and n not in allowed}
        assert not bad, f"{module} imports {bad}: go through ostiary.services"


def test_the_gate_imports_nothing_above_it():
    """The gate answers every request: it must not pull in the proxy renderers,
    the portal or the CLI (their imports would load into every worker's hot path)."""
    above = ("ostiary.proxies", "ostiary.portal", "ostiary.cli", "ostiary.demo", "ostiary.app")
    for module, names in _imports("gate").items():
        bad = {n for n in names if n == "ostiary.app" or n.startswith(above[:-1])}
        assert not bad, f"{module} imports {bad}"


def _modules_importing(prefixes: tuple[str, ...], package: str) -> dict[str, set[str]]:
    return {m: bad for m, names in _imports(package).items()
            if (bad := {n for n in names if n.startswith(prefixes)})}


def test_the_portal_reads_dns_settings_from_settings_not_the_dns_package():
    """DNS resolvers are parsed once, when the settings load (config.parse_resolvers):
    no portal module imports the DNS package to read them."""
    offenders = _modules_importing(("ostiary.dns",), "portal")
    assert not offenders, f"{offenders}: use Settings.dns_resolvers"


def test_nobody_parses_the_network_settings_again():
    """Trusted proxies, operator networks and DNS resolvers are typed Settings
    fields: no module outside config.py splits them per request."""
    for path in SRC.rglob("*.py"):
        if path.name == "config.py":
            continue
        text = path.read_text()
        for setting in ("trusted_proxies", "operator_networks", "dns_resolvers"):
            assert f"{setting}.split" not in text, f"{path.relative_to(SRC)} parses {setting} again"
        assert "parse_resolvers(" not in text, f"{path.relative_to(SRC)} parses DNS resolvers again"


def test_redirect_targets_belong_to_the_portal():
    assert not (SRC / "redirects.py").exists()
    assert (SRC / "portal" / "redirects.py").exists()
    for package in ("gate", "snapshot", "services", "issuer", "identity"):
        offenders = _modules_importing(("ostiary.portal.redirects", "ostiary.redirects"), package)
        assert not offenders, f"{offenders}: rd targets are the portal's"


def test_the_portal_builds_no_proxy_requests():
    """The portal decides with the plain-value rules in access.py and urlrules.py;
    it never builds the gate's ForwardedRequest nor calls into its decision or paths."""
    gate_internals = ("ostiary.gate.decide", "ostiary.gate.forwarded", "ostiary.gate.paths")
    offenders = _modules_importing(gate_internals, "portal")
    assert not offenders, f"{offenders}: use ostiary.access / ostiary.urlrules"
    for path in (SRC / "portal").rglob("*.py"):
        assert "ForwardedRequest" not in path.read_text(), f"{path.relative_to(SRC)} builds a fake proxy request"


def test_the_shared_rules_sit_below_the_gate_and_the_portal():
    """access.py and urlrules.py are used by both the gate and the portal, so
    they import neither (nor anything above them)."""
    above = ("ostiary.portal", "ostiary.services", "ostiary.store", "ostiary.cli", "ostiary.app",
             "ostiary.gate.decide", "ostiary.gate.forwarded", "ostiary.gate.asgi", "ostiary.dns")
    for name in ("access.py", "urlrules.py", "config.py"):
        tree = ast.parse((SRC / name).read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        bad = {n for n in names if n.startswith(above)}
        assert not bad, f"{name} imports {bad}"


def test_the_gate_imports_no_portal_module():
    offenders = _modules_importing(("ostiary.portal",), "gate")
    assert not offenders, f"{offenders}"
