"""A real `ostiary serve` in a subprocess (granian, HTTPS with the test CA),
and an httpx transport that sends any test host name to it on loopback
while keeping the Host header and TLS server name of the original URL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackTransport(httpx.HTTPTransport):
    """Connects to 127.0.0.1 whatever the URL's host, like Chromium's
    --host-resolver-rules="MAP * 127.0.0.1"."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # A copy: the client reads cookies' domains from the original request.
        sent = httpx.Request(
            request.method, request.url.copy_with(host="127.0.0.1"), headers=request.headers,
            stream=request.stream, extensions={**request.extensions, "sni_hostname": request.url.host},
        )
        for attempt in range(3):
            try:
                return super().handle_request(sent)
            except httpx.ConnectError as exc:
                # Nothing was sent when the TLS handshake itself fails; granian has,
                # rarely and only under heavy connection churn, answered a ClientHello
                # with a decode_error alert. Connect again; other errors stand.
                if attempt == 2 or "DECODE_ERROR" not in str(exc):
                    raise
        raise AssertionError("unreachable")


def loopback_client(ca_cert: Path | None = None, **kwargs) -> httpx.Client:
    import ssl

    ctx = ssl.create_default_context(cafile=str(ca_cert)) if ca_cert else ssl.create_default_context()
    return httpx.Client(transport=LoopbackTransport(verify=ctx), follow_redirects=False, timeout=10, **kwargs)


# ostiary.app logs this once per worker, at info level, when its snapshot is loaded.
WORKER_READY = b"ready: snapshot at change"


class OstiaryServer:
    def __init__(self, env: dict[str, str], port: int, workers: int = 2, tls: tuple[Path, Path] | None = None,
                 log_path: Path | None = None, server: str | None = "uvicorn"):
        # Each server its own metrics listener: several run side by side in the tests.
        self.env = {**os.environ, "OSTIARY_METRICS_LISTEN": f"127.0.0.1:{free_port()}", **env}
        self.port = port
        self.workers = workers
        self.tls = tls
        self.log_path = log_path
        self.server = server
        self.proc: subprocess.Popen | None = None

    def start(self, ready_host: str = "localhost", ca_cert: Path | None = None, timeout: float = 30) -> "OstiaryServer":
        cmd = [sys.executable, "-m", "ostiary", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        if self.server is not None:  # None: the server `ostiary serve` picks unless told
            cmd += ["--server", self.server]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        offset = self.log_path.stat().st_size if self.log_path and self.log_path.exists() else 0
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        scheme = "https" if self.tls else "http"
        deadline = time.time() + timeout
        with loopback_client(ca_cert) as client:
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ostiary serve exited with {self.proc.returncode}; see {self.log_path}")
                try:
                    # Every worker must be ready; a few probes reach different workers.
                    if all(client.get(f"{scheme}://{ready_host}:{self.port}/readyz").status_code == 200
                           for _ in range(self.workers * 2)) and self._every_worker_said_ready(offset):
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ostiary serve did not become ready in {timeout} s; see {self.log_path}")

    def _every_worker_said_ready(self, offset: int) -> bool:
        """The probes can all land on the workers already up while another is still
        starting (a test that then stops the database or the server meets it half
        started); each worker's own log line since this start settles it."""
        if self.log_path is None or self.env.get("OSTIARY_LOG_LEVEL", "info").lower() not in ("info", "debug"):
            return True
        with open(self.log_path, "rb") as written:
            written.seek(offset)
            return written.read().count(WORKER_READY) >= self.workers

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
