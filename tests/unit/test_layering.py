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


# --- the shared cookie: the gate's verifier apart from the operator tooling ----------------------

SHARED_COOKIE_TOOLING_DEPENDENCIES = ("httpx", "publicsuffixlist", "yaml")


def _loaded_after(code: str) -> dict:
    """Run `code` in a fresh interpreter (a clean sys.modules) and report what it loaded."""
    import json
    import subprocess
    import sys

    probe = code + (
        "\nimport json, sys\n"
        "print(json.dumps({'tooling_dependencies': sorted(m for m in %r if m in sys.modules),"
        " 'ostiary': sorted(m for m in sys.modules if m.startswith('ostiary.sharedcookie'))}))\n"
    ) % (SHARED_COOKIE_TOOLING_DEPENDENCIES,)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_gate_with_a_shared_cookie_source_loads_no_tooling_dependency():
    """A gate worker imports the gate and the snapshot, builds a shared-cookie source from its
    stored settings and verifies a cookie with it: none of that may bring in httpx,
    publicsuffixlist or PyYAML (the cookie doctor's and the snippets' dependencies)."""
    gate_path = """
import ostiary.gate.asgi, ostiary.gate.decide, ostiary.snapshot.build, ostiary.snapshot.follower
from ostiary.sharedcookie import SharedCookieIdentity, sign_in_link
from ostiary.sharedcookie.verifier.source_config import SharedCookieSettings, build_source
import jwt, time
secret = "a-real-secret-of-the-chat-0123456789abcdef"
source = build_source(SharedCookieSettings(sign_in_url="https://chat.example.com/login"),
                      environ={"JWT_REFRESH_SECRET": secret})
token = jwt.encode({"id": "u1", "sessionId": "s1", "exp": time.time() + 60}, secret, algorithm="HS256")
assert isinstance(source.verify("refreshToken=" + token), SharedCookieIdentity)
assert sign_in_link(source, "https://console.example.com", "/x").startswith("https://chat.example.com/login?")
"""
    loaded = _loaded_after(gate_path)
    assert loaded["tooling_dependencies"] == [], loaded
    assert not [m for m in loaded["ostiary"] if m.startswith("ostiary.sharedcookie.tooling")], loaded
    # The probe sees them as soon as the tooling is asked for, so the check above can fail.
    loaded = _loaded_after(gate_path + "from ostiary.sharedcookie import SharedCookieASGIMiddleware, diagnose, "
                                       "traefik_same_origin\n")
    assert loaded["tooling_dependencies"] == sorted(SHARED_COOKIE_TOOLING_DEPENDENCIES), loaded


def test_the_shared_cookie_package_face_is_lazy_and_every_name_resolves():
    """`import ostiary.sharedcookie` imports neither half; each public name (old ones too) loads its module on
    first use, and the verifier's names load nothing of the tooling."""
    loaded = _loaded_after("import ostiary.sharedcookie")
    assert loaded == {"tooling_dependencies": [], "ostiary": ["ostiary.sharedcookie"]}, loaded
    loaded = _loaded_after("""
import ostiary.sharedcookie as face
verifier = [n for n in face.__all__ if face._HOME.get(face.ALIASES.get(n, n), "").startswith(face._VERIFIER)]
assert {"SharedCookieSource", "ExternalJwtSource", "SharedCookieIdentity", "BrokenSource"} <= set(verifier), verifier
for name in verifier:
    getattr(face, name)
""")
    assert loaded["tooling_dependencies"] == [], loaded
    # ostiary.translations: the bottom layer's Message, for the settings' problems (standard library only at import).
    assert all(m.startswith(("ostiary.sharedcookie.verifier", "ostiary.sharedcookie")) or m == "ostiary.translations"
               for m in loaded["ostiary"]), loaded
    assert not [m for m in loaded["ostiary"] if ".tooling" in m], loaded
    import inspect

    import ostiary.sharedcookie as face

    for name in face.__all__:
        value = getattr(face, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == face._HOME[face.ALIASES.get(name, name)], name
    assert face.ExternalJwtSource is face.SharedCookieSource
    try:
        face.NoSuchName
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_the_gate_and_the_snapshot_reach_the_shared_cookie_only_through_its_verifier():
    """gate/ and snapshot/ (every worker's hot path) import only ostiary.sharedcookie.verifier, and
    the verifier imports only PyJWT, the standard library, the bottom layer's translations (Message, for
    the settings' problems) and itself, never the tooling."""
    import sys

    for package in ("gate", "snapshot"):
        for module, names in _imports(package).items():
            bad = {n for n in names if n.startswith("ostiary.sharedcookie")
                   and not n.startswith("ostiary.sharedcookie.verifier")}
            assert not bad, f"{module} imports {bad}: the gate uses ostiary.sharedcookie.verifier only"
    for module, names in _imports("sharedcookie/verifier").items():
        bad = {n for n in names if n.split(".")[0] not in sys.stdlib_module_names
               and n.split(".")[0] not in ("jwt", "__future__")
               and not n.startswith("ostiary.sharedcookie.verifier") and n != "ostiary.translations"}
        assert not bad, f"{module} imports {bad}: the verifier takes PyJWT and the standard library only"


def test_the_shared_cookie_package_face_imports_nothing_at_run_time():
    """sharedcookie/__init__.py may import only what the lazy lookup needs; the rest is for type checkers."""
    import ast

    tree = ast.parse((SRC / "sharedcookie" / "__init__.py").read_text())
    run_time = []
    for node in tree.body:  # module level only: imports under `if TYPE_CHECKING:` never run
        if isinstance(node, ast.Import):
            run_time += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            run_time.append(node.module)
    assert set(run_time) <= {"__future__", "importlib", "typing"}, run_time
def _imported_names(package: str) -> dict[str, set[tuple[str, str]]]:
    """Per module of `package` (or the one module `package`.py): (module, name) for each `from X import name`."""
    root = SRC / package
    paths = list(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]
    found = {}
    for path in paths:
        pairs = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                pairs.update((node.module, a.name) for a in node.names)
            elif isinstance(node, ast.Import):
                pairs.update((a.name, "") for a in node.names)
        found[str(path.relative_to(SRC))] = pairs
    return found


def test_the_snapshot_imports_nothing_of_the_gate_or_above():
    """The snapshot sits below the gate (the gate reads it); its keys come
    from ostiary.tokens, never from the gate again."""
    above = ("ostiary.gate", "ostiary.portal", "ostiary.services", "ostiary.cli", "ostiary.issuer", "ostiary.identity")
    for module, names in _imports("snapshot").items():
        bad = {n for n in names if n.startswith(above) or n == "ostiary.app"}
        assert not bad, f"{module} imports {bad}"


def test_tokens_import_nothing_of_ostiary():
    """Keys, signing and the token kinds sit below everything that signs or
    verifies: the gate, the snapshot, the services and the portal."""
    names = {m for m, _ in _imported_names("tokens")["tokens.py"]}
    assert names, "the AST walk found no imports at all: the test reads the wrong file"
    bad = {n for n in names if n == "ostiary" or n.startswith("ostiary.")}
    assert not bad, f"tokens.py imports {bad}"


def test_token_primitives_come_only_from_ostiary_tokens():
    """No module takes a key, sign/verify or a token kind from the gate (or
    anywhere but ostiary.tokens) again; gate/signing.py is gone for good."""
    from ostiary import tokens

    kinds = {n for n, v in vars(tokens).items() if n.isupper() and isinstance(v, str) and v in tokens.KINDS}
    assert len(kinds) == len(tokens.KINDS) == 5
    primitives = {"SigningKey", "sign", "verify", "good_until"} | kinds
    assert not (SRC / "gate" / "signing.py").exists()
    for package in [p.name for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("_")]:
        for module, pairs in _imported_names(package).items():
            bad = {(m, n) for m, n in pairs if n in primitives and m != "ostiary.tokens" and m.startswith("ostiary")}
            bad |= {(m, n) for m, n in pairs if m == "ostiary.gate.signing"}
            assert not bad, f"{module} imports {bad}: take them from ostiary.tokens"


# What the portal still takes from the gate. Issue 21 (move 3) moves the first two to where both
# can use them; this list may only shrink: anything else of the gate is the gate's own business.
PORTAL_MAY_TAKE_FROM_THE_GATE = {
    ("ostiary.gate.decide", "identity_from_cookies"),
    ("ostiary.gate.forwarded", "ForwardedRequest"),
    ("ostiary.gate.asgi", "log_broken_source_once"),
    ("ostiary.gate.operators", "asks_directly"),
    ("ostiary.gate.operators", "operator_networks"),
}


def test_the_portal_takes_nothing_else_from_the_gate():
    for module, pairs in _imported_names("portal").items():
        from_gate = {(m, n) for m, n in pairs if m == "ostiary.gate" or m.startswith("ostiary.gate.")}
        bad = from_gate - PORTAL_MAY_TAKE_FROM_THE_GATE
        assert not bad, f"{module} imports {bad} from the gate's internals"


def test_the_shared_names_import_nothing_of_ostiary():
    """wire.py (paths, cookies, /check outcomes) and dns/status.py (domain
    states) are read by the gate, the snapshot, the observability and the
    services alike, so they depend on none of them."""
    for module in ("wire", "dns/status"):
        pairs = next(iter(_imported_names(module).values()))
        bad = {m for m, _ in pairs if m == "ostiary" or m.startswith("ostiary.")}
        assert not bad, f"{module}.py imports {bad}"
def _modules_importing(prefixes: tuple[str, ...], package: str) -> dict[str, set[str]]:
    return {m: bad for m, names in _imports(package).items()
            if (bad := {n for n in names if n.startswith(prefixes)})}


def test_the_portal_reads_dns_settings_from_settings_not_the_dns_package():
    """DNS resolvers are parsed once, when the settings load (config.parse_resolvers):
    no portal module imports the DNS package to read them. The domain states
    (dns/status.py, which imports nothing) are names, not settings: pages may use them."""
    offenders = {path: bad for path, mods in _modules_importing(("ostiary.dns",), "portal").items()
                 if (bad := {m for m in mods if m != "ostiary.dns.status"})}
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


# The rooms of the service layer (docs/how-it-works.md, "The pieces"): each imports only the rooms
# below it in this order, and none imports what calls it.
SERVICE_ROOMS = ("base", "rules", "queries", "jobs")


def _service_imports(room: str) -> dict[str, set[str]]:
    """Every module a room's files import, with `from ostiary.services.x import y`
    counted as ostiary.services.x.y too (y may be a module), function-local imports included."""
    found = {}
    for path in (SRC / "services" / room).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
        found[str(path.relative_to(SRC))] = names
    return found


def test_the_services_live_in_their_rooms():
    loose = sorted(p.name for p in (SRC / "services").glob("*.py") if p.name != "__init__.py")
    assert not loose, f"{loose}: put each in services/rules, queries, jobs or base"
    for room in SERVICE_ROOMS:
        assert (SRC / "services" / room / "__init__.py").exists(), room


def test_each_service_room_imports_only_the_rooms_below_it():
    for i, room in enumerate(SERVICE_ROOMS):
        above = tuple(f"ostiary.services.{r}" for r in SERVICE_ROOMS[i + 1:])
        if not above:
            continue
        for module, names in _service_imports(room).items():
            bad = {n for n in names if n.startswith(above)}
            assert not bad, f"{module} imports {bad}: services/{room} sits below {[r for r in SERVICE_ROOMS[i + 1:]]}"


def test_the_rules_import_no_queries_or_jobs_and_queries_no_jobs():
    """The order above, spelled out as the two rules the rooms exist for."""
    for module, names in _service_imports("rules").items():
        bad = {n for n in names if n.startswith(("ostiary.services.queries", "ostiary.services.jobs"))}
        assert not bad, f"{module} imports {bad}"
    for module, names in _service_imports("queries").items():
        bad = {n for n in names if n.startswith("ostiary.services.jobs")}
        assert not bad, f"{module} imports {bad}"


def test_no_service_imports_what_calls_it():
    callers = ("ostiary.portal", "ostiary.gate", "ostiary.cli", "ostiary.app", "ostiary.serving", "ostiary.demo")
    for room in SERVICE_ROOMS:
        for module, names in _service_imports(room).items():
            bad = {n for n in names if n.startswith(callers)}
            assert not bad, f"{module} imports {bad}: the services are called, they do not call up"


def test_the_service_package_face_imports_nothing():
    """`import ostiary.services` loads no room; callers name the module they use."""
    for path in [SRC / "services" / "__init__.py"] + [SRC / "services" / r / "__init__.py" for r in SERVICE_ROOMS]:
        tree = ast.parse(path.read_text())
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert not imports, f"{path.relative_to(SRC)} imports at load time"


# --- no import cycles, anywhere in ostiary --------------------------------------------------------


def _module_name(root: Path, path: Path) -> str:
    parts = (root.name,) + path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package at `root` → the modules of that package it imports.

    Every `import` and `from … import` in the file counts, wherever it stands: at the top, in a function
    (a "local" import is still a dependency, only a later one), under `if TYPE_CHECKING:`. `from P import x`
    depends on P.x when that is a module, else on P; importing a module also runs its packages'
    `__init__.py`, which counts unless the importer sits inside that package (it ran already)."""
    modules = {_module_name(root, p): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        edges = set()
        for target in targets:
            if target in modules and target != name:
                edges.add(target)
            parts = target.split(".")
            for i in range(1, len(parts)):  # the packages it runs on the way
                parent = ".".join(parts[:i])
                if parent in modules and not name.startswith(parent + "."):
                    edges.add(parent)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One loop through each group of modules that import each other (Tarjan's strongly connected
    components), as `a → b → … → a`."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_shortest_loop(graph, group) for group in groups]


def _shortest_loop(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest way from the group's first module back to itself, breadth first."""
    start = min(group)
    paths, queue = {start: [start]}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & group):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    raise AssertionError(f"{sorted(group)} is no cycle")


def test_no_ostiary_modules_import_each_other():
    """A cycle kept alive by a function-local import is still a cycle: the two modules cannot be
    understood, tested or moved apart. Break it by moving what both need below both."""
    graph = _import_graph(SRC)
    assert len(graph) > 100 and sum(map(len, graph.values())) > len(graph), "the walk found too few modules or imports"
    loops = _cycles(graph)
    assert not loops, "modules importing each other:\n" + "\n".join(" → ".join(loop) for loop in loops)


def test_the_cycle_finder_sees_local_relative_and_package_imports(tmp_path):
    """The check above can fail: a cycle closed only inside a function, by a relative import, or
    through a package's __init__.py, is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "def later():\n    from . import a\n",  # the function-local, relative half
        "c.py": "import pkg.sub.d\n",
        "sub/__init__.py": "from pkg.c import x\n",  # c → sub (its __init__) → c
        "sub/d.py": "",
        "e.py": "from pkg.sub import d\n",  # e needs sub and sub.d, and nothing needs e: no cycle
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    loops = _cycles(_import_graph(pkg))
    assert sorted(loops) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.c", "pkg.sub", "pkg.c"]], loops
# --- the portal's page helpers (issue 21, move 8) ---------------------------------------------------

# What every portal page shares, one concern a module: which instance and host, the client's
# address, CSRF, cookies, rendering, and pages.py (the unknown-host page, the host decorators, the
# browser's session, the signed-in person with a checked form, the apps a person may enter).
PORTAL_HELPERS = ("instance", "client_address", "csrf", "cookies", "rendering", "pages")
# What the helpers may take from the rest of the portal: the translation layer (with the services' problems
# in the page's language) and the user-agent names.
PORTAL_HELPERS_MAY_USE = ("i18n", "problem_text", "user_agents")


def test_the_portal_helpers_import_no_page():
    """The helpers sit below every page and form module of the portal (and the admin pages and the
    API): they import only each other, so any page can use them without a cycle."""
    allowed = {f"ostiary.portal.{m}" for m in PORTAL_HELPERS + PORTAL_HELPERS_MAY_USE} | {"ostiary.portal"}
    found = _imports("portal")
    for helper in PORTAL_HELPERS:
        assert f"portal/{helper}.py" in found, f"portal/{helper}.py is missing"
        names = found[f"portal/{helper}.py"]
        bad = {n for n in names if n.startswith("ostiary.portal") and n not in allowed}
        assert not bad, f"portal/{helper}.py imports {bad}: the page helpers import no page"
    assert not (SRC / "portal" / "context.py").exists(), "portal/context.py is split by concern: use the helpers"


def _functions(package: str):
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                called = {c.func.id if isinstance(c.func, ast.Name) else getattr(c.func, "attr", "")
                          for c in ast.walk(node) if isinstance(c, ast.Call)}
                yield str(path.relative_to(SRC)), node.name, called


def test_the_pages_share_their_plumbing_instead_of_repeating_it():
    """The unknown-host page is written in pages.py only; no handler looks up both the signed-in
    session and the CSRF token itself (pages.signed_in and pages.checked_form do, once); the list of
    the apps a person may enter is built by pages.visible_apps only."""
    for path in (SRC / "portal").rglob("*.py"):
        if path.name == "pages.py":
            continue
        text = path.read_text()
        assert "Unknown host" not in text and "unknown_host=True" not in text, \
            f"{path.relative_to(SRC)} writes its own unknown-host page: use pages.unknown_host or pages.tenant_page"
    checked = 0
    for module, function, called in _functions("portal"):
        if module == "portal/pages.py":
            continue
        checked += 1
        assert not {"current_session", "csrf_ok"} <= called, \
            f"{module}: {function} checks the session and the CSRF token itself: use pages.signed_in_form"
        assert "may_enter" not in called, f"{module}: {function} lists enterable apps itself: use pages.visible_apps"
    assert checked > 100, "the walk found too few functions: it reads the wrong files"
