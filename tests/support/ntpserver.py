"""A fake NTP server on loopback whose clock is off by a chosen skew, for
`ostiary doctor`'s clock check (ntplib builds and reads the packets)."""

from __future__ import annotations

import socket
import threading
import time


class NtpServer:
    """A tiny SNTP server on loopback whose clock runs `skew` seconds from this machine's."""

    def __init__(self, skew: float = 0.0) -> None:
        import ntplib

        self._ntplib = ntplib
        self.skew = skew
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        ntplib = self._ntplib
        while not self._stopping.is_set():
            try:
                data, peer = self._socket.recvfrom(256)
            except socket.timeout:
                continue
            query = ntplib.NTPPacket()
            query.from_data(data)
            now = ntplib.system_to_ntp_time(time.time() + self.skew)
            reply = ntplib.NTPPacket(version=query.version, mode=4, tx_timestamp=now)
            reply.stratum = 2
            reply.orig_timestamp = query.tx_timestamp
            reply.recv_timestamp = now
            reply.ref_timestamp = now
            self._socket.sendto(reply.to_data(), peer)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._socket.close()
