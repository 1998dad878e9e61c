"""Real servers for the shared-cookie tests: uvicorn, wsgiref and Caddy on loopback ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import uvicorn

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tests" / "node"
MINT_SCRIPT = NODE_DIR / "mint-librechat-token.js"
VENV_CADDY = REPO / ".venv" / "bin" / "caddy"
DEBIAN_CADDY = Path("/usr/bin/caddy")
CHROMIUM = Path("/usr/bin/chromium")
TRAEFIK_SCHEMA = REPO / "tests" / "reference" / "traefik" / "traefik-v3-file-provider.schema.json"


def require_binary(path: Path | str, install_hint: str) -> str:
    found = shutil.which(str(path))
    if not found:
        pytest.fail(f"{path} is missing: {install_hint}", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class UvicornThread:
    """An ASGI app under real uvicorn, on its own loopback port."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class WsgirefThread:
    """A WSGI app under the standard library's wsgiref server, in a thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, server_class=_ThreadingWSGIServer,
                                  handler_class=_QuietHandler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WsgirefThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class CaddyProcess:
    """``caddy run`` on a generated Caddyfile, data kept under tmp_path."""

    def __init__(self, binary: str, caddyfile: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.path = workdir / "Caddyfile"
        self.path.write_text(caddyfile)
        self.log = workdir / "caddy.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CaddyProcess:
        env = {"HOME": str(self.workdir), "XDG_DATA_HOME": str(self.workdir / "data"),
               "XDG_CONFIG_HOME": str(self.workdir / "config"), "PATH": "/usr/bin:/bin"}
        self.process = subprocess.Popen([self.binary, "run", "--adapter", "caddyfile", "--config", str(self.path)],
                                        stdout=self.log.open("wb"), stderr=subprocess.STDOUT, env=env)
        return self

    def wait_for(self, port: int) -> None:
        try:
            wait_for_port(port)
        except RuntimeError:
            raise AssertionError(f"{self.binary} did not listen on {port}:\n{self.log.read_text()}") from None

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def caddy_validate(binary: str, caddyfile: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "Caddyfile"
    path.write_text(caddyfile)
    env = {"HOME": str(workdir), "XDG_DATA_HOME": str(workdir / "data"), "XDG_CONFIG_HOME": str(workdir / "config"),
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([binary, "validate", "--adapter", "caddyfile", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, env=env)


def caddy_globals(http_port: int, https_port: int) -> str:
    """Global options for tests: no admin port, no trust-store changes, high ports."""
    return (f"{{\n\tadmin off\n\tskip_install_trust\n\thttp_port {http_port}\n\thttps_port {https_port}\n"
            f"\tauto_https disable_redirects\n}}\n\n")


