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
