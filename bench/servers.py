"""Servers under test on loopback: Ostiary (`ostiary serve`), the bare
granian handler, and which worker process owns a given connection."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ostiary.serving import DEFAULT_SERVER
from tests.support.server import OstiaryServer, free_port  # noqa: F401  (re-exported for the cases)

ROOT = Path(__file__).resolve().parent.parent


def ensure_secret_key(work: Path) -> None:
    """A fresh secret key in `work` for the servers and the world the run builds, unless
    OSTIARY_SECRET_KEY_FILE already names one."""
    if "OSTIARY_SECRET_KEY_FILE" not in os.environ:
        from ostiary.secretbox import generate_key

        (work / "secret.key").write_text(generate_key() + "\n")
        (work / "secret.key").chmod(0o600)
        os.environ["OSTIARY_SECRET_KEY_FILE"] = str(work / "secret.key")


def ostiary(url: str, port: int, workers: int, workdir: Path, server: str = DEFAULT_SERVER,
            **env: str) -> OstiaryServer:
    base = {"OSTIARY_DATABASE_URL": url, "OSTIARY_DATA_DIR": str(workdir), "OSTIARY_LOG_LEVEL": "warning"}
    return OstiaryServer({**base, **env}, port, workers=workers, log_path=workdir / f"ostiary-{port}.log",
                         server=server).start(timeout=120)


class BareServer:
    """bench/bare_app.py under granian, started and stopped like OstiaryServer."""

    def __init__(self, port: int, workdir: Path, workers: int = 1, factory: str = "create_bare",
                 loop: str = "asyncio", interface: str = "asgi"):
        self.port = port
        if interface == "rsgi" and factory == "create_bare":
            factory = "create_bare_rsgi"
        log = open(workdir / f"bare-{port}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.bare_app", str(port), str(workers), factory, loop,
                                      interface],
                                     cwd=ROOT,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the bare handler did not listen on {port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return sorted(set(out))


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def worker_pids(server_pid: int, port: int) -> list[int]:
    """The processes that hold the listening socket: granian's workers, uvicorn's with several; one
    uvicorn worker serves in the server process itself."""
    listening = _inodes_where(lambda local, remote, state: local == port and state == "0A")
    workers = [p for p in descendants(server_pid) if _socket_inodes(p) & listening]
    if not workers and _socket_inodes(server_pid) & listening:
        workers = [server_pid]
    return workers


def _inodes_where(pred) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            local, remote = int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16)
            if pred(local, remote, f[3]):
                found.add(f[9])
    return found


def owner_of_connection(pids: list[int], server_port: int, client_port: int) -> int | None:
    """Which worker accepted the connection from `client_port`, read from /proc."""
    inodes = _inodes_where(lambda local, remote, state: local == server_port and remote == client_port)
    for p in pids:
        if _socket_inodes(p) & inodes:
            return p
    return None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class KeepAlive:
    """One HTTP/1.1 keep-alive connection, for asking one worker at a time."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_port = self.sock.getsockname()[1]
        self._buf = b""

    def get(self, path: str, headers: dict[str, str]) -> int:
        lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        while b"\r\n\r\n" not in self._buf:
            self._read()
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self._buf) < length:
            self._read()
        self._buf = self._buf[length:]
        return status

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self._buf += chunk

    def close(self) -> None:
        self.sock.close()
