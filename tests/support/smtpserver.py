"""A real SMTP server for the tests: aiosmtpd in its own process on
loopback. Every message it accepts is written, whole, to a folder the test
reads back (one .eml per message, renamed into place once complete).

Run as `python -m tests.support.smtpserver --port N --folder DIR`, with
`--tls-cert/--tls-key` for STARTTLS (required then) and `--user/--password`
for AUTH (required then); `--implicit-tls` with the certificate speaks TLS
from the first byte instead of STARTTLS. Recipients whose address starts with "refused"
are refused with 550, like a server that knows no such mailbox."""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path


class SmtpServer:
    """The test side: starts the process, reads what it received."""

    def __init__(self, folder: Path, port: int, tls: tuple[Path, Path] | None = None,
                 login: tuple[str, str] | None = None, implicit_tls: bool = False):
        self.folder, self.port, self.tls, self.login = folder, port, tls, login
        self.implicit_tls = implicit_tls
        self.proc: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self, timeout: float = 15) -> "SmtpServer":
        cmd = [sys.executable, "-m", "tests.support.smtpserver", "--port", str(self.port), "--folder", str(self.folder)]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        if self.implicit_tls:
            cmd += ["--implicit-tls"]
        if self.login:
            cmd += ["--user", self.login[0], "--password", self.login[1]]
        root = Path(__file__).parents[2]
        self.proc = subprocess.Popen(cmd, cwd=root, start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=open(self.folder / "server.log", "ab"))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the SMTP server exited with {self.proc.returncode}; see {self.folder / 'server.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if self.implicit_tls:  # the greeting comes only after a TLS handshake
                        return self
                    if s.recv(100).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the SMTP server did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def clear(self) -> None:
        """Forget what was received (a module's tests share one server)."""
        for path in self.folder.glob("*.eml"):
            path.unlink()

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        """Every message received so far (oldest first), or those for `to`."""
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to is None or to.lower() in str(msg["To"]).lower():
                found.append(msg)
        return found

    def wait_for(self, to: str, count: int = 1, timeout: float = 20) -> list[EmailMessage]:
        """The first `count` messages for `to`, waiting for them to arrive."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} message(s) to {to} did not arrive within {timeout} s; got {len(self.messages(to))}")


# --- the server process ---------------------------------------------------------------------------

def _serve(args) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    folder = Path(args.folder)

    class SaveToFolder:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.lower().startswith("refused"):
                return "550 5.1.1 no such mailbox here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            name = f"{time.time_ns()}-{threading.get_ident()}"
            part = folder / f"{name}.part"
            part.write_bytes(envelope.original_content or envelope.content)
            part.rename(folder / f"{name}.eml")
            return "250 Message accepted"

    def check_login(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == (
            args.user, args.password)
        return AuthResult(success=ok)

    kwargs = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            kwargs.update(ssl_context=context)  # TLS from the first byte, as on port 465
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    if args.user:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; under implicit TLS the whole session is encrypted.
        kwargs.update(authenticator=check_login, auth_required=True,
                      auth_require_tls=bool(args.tls_cert) and not args.implicit_tls)
    controller = Controller(SaveToFolder(), hostname="127.0.0.1", port=args.port, server_hostname="smtp.test",
                            ready_timeout=10, **kwargs)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    _serve(parser.parse_args())
