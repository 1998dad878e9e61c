"""Real DNS servers on loopback for tests: dnsmasq with given records, and two misbehaving ones.

Independent of pytest, so any test suite (or a script) can use them:

    with Dnsmasq(txt={"_ostiary-challenge.acme-corp.test": ["ostiary-domain-verification=abc"]}) as dns:
        os.environ["OSTIARY_DNS_RESOLVERS"] = dns.resolvers_env
        ...
        dns.restart(txt={})  # same port, new records
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence, Union

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

TxtValue = Union[str, Sequence[str]]  # a str, or several character-strings forming one record


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on `host` (dnsmasq listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port found on loopback")


def _txt_string(value: str) -> str:
    # dnsmasq splits a command-line TXT value at commas into character-strings and keeps quotes as
    # they are, so a string cannot hold a comma here.
    if "," in value:
        raise ValueError(f"a TXT string given to dnsmasq on its command line cannot contain a comma: {value!r}")
    return value


class Dnsmasq:
    """A dnsmasq answering only from the records given, on 127.0.0.1 and a free port.

    txt:     name -> list of TXT records; a record is a str or a sequence of character-strings.
    hosts:   name -> list of IPv4/IPv6 addresses.
    forward: zone -> (ip, port) of another server that answers for that zone.
    local:   zones answered only from these records (unknown names get NXDOMAIN, not REFUSED).
    """

    def __init__(
        self,
        txt: Mapping[str, Sequence[TxtValue]] | None = None,
        hosts: Mapping[str, Sequence[str]] | None = None,
        forward: Mapping[str, tuple[str, int]] | None = None,
        local: Sequence[str] = ("test",),
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: str = "dnsmasq",
    ) -> None:
        self.txt = dict(txt or {})
        self.hosts = dict(hosts or {})
        self.forward = dict(forward or {})
        self.local = tuple(local)
        self.host = host
        self.port = port
        self.binary = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
        if not self.binary:
            raise RuntimeError("dnsmasq not found: install Debian's dnsmasq-base (apt-get install -y dnsmasq-base)")
        self._process: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="dnsmasq-", suffix=".log", delete=False)

    # -- addresses -------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        assert self.port is not None, "start() first"
        return self.host, self.port

    @property
    def resolvers(self) -> list[tuple[str, int]]:
        return [self.address]

    @property
    def resolvers_env(self) -> str:
        """The value for OSTIARY_DNS_RESOLVERS."""
        return f"{self.host}:{self.port}"

    # -- life cycle ------------------------------------------------------------------------

    def arguments(self) -> list[str]:
        args = [
            self.binary,
            "--keep-in-foreground",
            "--conf-file=/dev/null",  # ignore /etc/dnsmasq.conf and /etc/dnsmasq.d
            "--pid-file",  # no pid file, so several instances can run at once
            f"--port={self.port}",
            f"--listen-address={self.host}",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--cache-size=0",  # every query reaches the records or the forwarded server
            "--log-facility=-",
        ]
        args += [f"--local=/{zone}/" for zone in self.local]
        for zone, (ip, port) in self.forward.items():
            args.append(f"--server=/{zone}/{ip}#{port}")
        for name, records in self.txt.items():
            for record in records:
                strings = [record] if isinstance(record, str) else list(record)
                args.append(f"--txt-record={name}," + ",".join(_txt_string(s) for s in strings))
        for name, addresses in self.hosts.items():
            for address in addresses:
                args.append(f"--host-record={name},{address}")
        return args

    def start(self, timeout: float = 10.0) -> "Dnsmasq":
        fixed_port = self.port is not None
        deadline = time.monotonic() + timeout
        while True:
            if not fixed_port:
                self.port = free_udp_port(self.host)
            self._process = subprocess.Popen(
                self.arguments(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
            )
            if self._wait_until_answering(deadline):
                return self
            self._terminate()
            if time.monotonic() > deadline:
                raise RuntimeError(f"dnsmasq did not start on {self.host}:{self.port}; its log:\n{self.log()}")
            time.sleep(0.1)  # a restart on a fixed port may find it briefly still in use

    def _wait_until_answering(self, deadline: float) -> bool:
        probe = dns.message.make_query("version.bind", "TXT", "CH")
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                dns.query.udp(probe, self.host, port=self.port, timeout=0.2)
                return True
            except (dns.exception.DNSException, OSError):  # no answer yet, or one to another question
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._terminate()

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(
        self,
        txt: Mapping[str, Sequence[TxtValue]] | None = None,
        hosts: Mapping[str, Sequence[str]] | None = None,
        forward: Mapping[str, tuple[str, int]] | None = None,
    ) -> "Dnsmasq":
        """Stop, replace the records given (None keeps the current ones), start on the same port."""
        self.stop()
        if txt is not None:
            self.txt = dict(txt)
        if hosts is not None:
            self.hosts = dict(hosts)
        if forward is not None:
            self.forward = dict(forward)
        return self.start()

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def close(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def __enter__(self) -> "Dnsmasq":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class _UdpServer:
    """A UDP socket on loopback served by a background thread until stop()."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((host, 0))
        self._socket.settimeout(0.1)
        self.port = self._socket.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.queries = 0

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self):
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            self.handle(data, peer)

    def handle(self, data: bytes, peer) -> None:
        pass

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._socket.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SilentDnsServer(_UdpServer):
    """Receives DNS queries and never answers: a resolver that times out."""


class SlowDnsServer(_UdpServer):
    """Answers TXT and A queries from `txt`/`hosts` after sleeping `delay` seconds; NXDOMAIN otherwise."""

    def __init__(
        self,
        delay: float,
        txt: Mapping[str, Sequence[str]] | None = None,
        hosts: Mapping[str, Sequence[str]] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.delay = delay
        self.txt = {k.rstrip(".").lower(): list(v) for k, v in (txt or {}).items()}
        self.hosts = {k.rstrip(".").lower(): list(v) for k, v in (hosts or {}).items()}

    def handle(self, data: bytes, peer) -> None:
        # Each query sleeps in its own thread, so the delay is per query, not a queue.
        threading.Thread(target=self._answer, args=(data, peer), daemon=True).start()

    def _answer(self, data: bytes, peer) -> None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        if self._stopping.wait(self.delay):
            return
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        table = {dns.rdatatype.TXT: self.txt, dns.rdatatype.A: self.hosts}.get(question.rdtype, {})
        if name in self.txt or name in self.hosts:
            values = table.get(name, [])
            if values:
                text = [f'"{v}"' for v in values] if question.rdtype == dns.rdatatype.TXT else values
                response.answer.append(dns.rrset.from_text_list(question.name, 0, "IN", question.rdtype, text))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        try:
            self._socket.sendto(response.to_wire(), peer)
        except OSError:
            pass
