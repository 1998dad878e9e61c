"""`ostiary serve --server uvicorn`'s HTTP protocol: uvicorn's own (httptools),
except that a plain check is answered while its headers are parsed.

uvicorn hands every request to the application in a new asyncio task and
writes the answer through the ASGI `send` coroutine, twice (start, body).
Behind nginx, whose subrequests arrive one by one, that machinery is most of
what a check costs Ostiary (docs/proxies/nginx.md, "Performance"). The check
itself is synchronous (`CheckHandler.answer`: the snapshot in memory, no
database, no await), so for a request that needs nothing else this protocol
calls it in the parser's callback and writes the whole answer with one
`transport.write`. Everything else takes uvicorn's path unchanged: any other
path or an escaped one, an upgrade, `Expect: 100-continue`, a pipelined request,
a paused transport, a check that must wait for a newcomer to reach the snapshot,
a concurrency limit, and an application uvicorn wrapped in middleware.

The answer is the one the ASGI path sends (the same two messages), written as
uvicorn writes them: its status line, its default headers (Date), a
`connection: close` when the request asked for it or was HTTP/1.0, no body for
HEAD. A header uvicorn would refuse (its own HEADER_RE and HEADER_VALUE_RE) is
left to uvicorn's path, which refuses it as it always has.
"""

from __future__ import annotations

import logging
import time

import httptools
from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE, STATUS_LINE, HttpToolsProtocol

from ostiary.gate.asgi import CheckHandler
from ostiary.observability.metrics import check_answered
from ostiary.wire import CHECK_PATH, NOT_SIGNED_IN

log = logging.getLogger(__name__)

_CHECK = CHECK_PATH.encode("ascii")
_CHECK_SUB = _CHECK + b"/"
_CLOSE = b"connection: close\r\n"


class _Answered:
    """Stands in for uvicorn's request-response cycle once a check is answered
    here: the parser's later callbacks for that request (a body, its end) and
    connection_lost see a complete response, as they would after uvicorn's."""

    response_complete = True

    class message_event:  # noqa: N801 - read as the cycle's attribute
        @staticmethod
        def set() -> None:
            return None


ANSWERED = _Answered()

# The encoded status line and headers of each remembered answer's start message, keyed by the
# message's identity and holding it (so the identity cannot be reused while the entry lives).
_ENCODED: dict[int, tuple[dict, bytes | None]] = {}
_ENCODED_MAX = 10_000


def _encoded_headers(start: dict) -> bytes | None:
    """The status line and headers of `start` as uvicorn writes them, or None
    when a header needs uvicorn's own handling (a name or value uvicorn refuses,
    a `connection` or `transfer-encoding` header the check never sends)."""
    entry = _ENCODED.get(id(start))
    if entry is not None and entry[0] is start:
        return entry[1]
    parts = [STATUS_LINE[start["status"]]]
    encoded: bytes | None = None
    for name, value in start["headers"]:
        if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value) or name in (b"connection", b"transfer-encoding"):
            break
        parts += (name, b": ", value, b"\r\n")
    else:
        encoded = b"".join(parts)
    if len(_ENCODED) >= _ENCODED_MAX:
        _ENCODED.clear()
    _ENCODED[id(start)] = (start, encoded)
    return encoded


class GateProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the check answered in place (module docstring)."""

    off = False  # set for the worker after a failure: every check takes uvicorn's path

    def on_headers_complete(self) -> None:
        if not self._answered_here():
            super().on_headers_complete()

    def _answered_here(self) -> bool:
        """Answer the check now and say so, or leave the request to uvicorn's path
        (having written nothing). Any surprise before the answer is written, a
        uvicorn that changed shape among them, leaves it and every later check to
        uvicorn's path (said once in the log)."""
        if GateProtocol.off:
            return False
        try:
            answer = self._answer()
        except Exception:  # uvicorn's own path answers it, as it answers everything else
            GateProtocol.off = True
            log.exception("answering checks in uvicorn's parser failed; this worker answers every check through "
                          "uvicorn's ASGI path from now on (correct, at a higher cost per check)")
            return False
        if answer is None:
            return False
        data, keep_alive, outcome, started, req = answer
        self.cycle = ANSWERED
        self.transport.write(data)
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()
        check_answered(outcome, started, req)
        return True

    def _answer(self) -> tuple[bytes, bool, str, float, object] | None:
        handler = getattr(self.app, "check", None)
        cycle = self.cycle
        if (not isinstance(handler, CheckHandler) or self.expect_100_continue or self.pipeline
                or (cycle is not None and not cycle.response_complete) or self.flow.write_paused
                or self.limit_concurrency is not None or self.parser.should_upgrade()):
            return None
        url = httptools.parse_url(self.url)
        path = url.path
        if path != _CHECK and not path.startswith(_CHECK_SUB) or b"%" in path or self.root_path:
            return None
        started = time.perf_counter()
        parser = self.parser
        http_version = parser.get_http_version()
        scope = self.scope
        scope["method"] = method = parser.get_method().decode("ascii")
        if http_version != "1.1":
            scope["http_version"] = http_version
        scope["path"] = path.decode("ascii")
        scope["raw_path"] = path
        scope["query_string"] = url.query or b""
        outcome, start, body, req = handler.answer(scope)
        if outcome == NOT_SIGNED_IN and handler.waits_for_newcomer(req):
            return None  # it waits for the snapshot: uvicorn's task, the ASGI path
        head = _encoded_headers(start)
        if head is None:
            return None
        keep_alive = http_version != "1.0" and parser.should_keep_alive()
        parts = [head]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        if not keep_alive:
            parts.append(_CLOSE)
        parts.append(b"\r\n")
        if method != "HEAD":
            parts.append(body["body"])
        return b"".join(parts), keep_alive, outcome, started, req
