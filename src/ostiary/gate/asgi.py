"""The thin ASGI layer over the decision: no framework, no database, no log
line per allowed request, only counters."""

from __future__ import annotations

import asyncio
import logging
import time
from itertools import chain
from collections.abc import Callable

from ostiary.access import cookie_identity
from ostiary.gate.decide import Decision, decide
from ostiary.gate.forwarded import ForwardedRequest, parse_forwarded_request, read_headers
from ostiary.gate import refusal_page
from ostiary.gate.operators import asks_directly
from ostiary.hostnames import normalise_hostname
from ostiary.observability.metrics import check_answered
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.wire import (
    ERROR, FORBIDDEN, IDENTITY_HEADERS, LOCATION_HEADER, NAVIGATION_HEADER, NO_APP, NOT_SIGNED_IN, UNAVAILABLE,
)

log = logging.getLogger(__name__)


_HEADER_NAMES = {k: v.lower().encode("ascii") for k, v in IDENTITY_HEADERS.items()}
_NAVIGATION = (NAVIGATION_HEADER.lower().encode("ascii"), b"1")
_LOCATION = LOCATION_HEADER.lower().encode("ascii")
# A check without the forwarded request cannot be answered; say why, at most once a minute per reason.
_INCOMPLETE_EVERY = 60.0
_incomplete_logged: dict[tuple[str, ...], float] = {}
_NO_STORE = (b"cache-control", b"no-store")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_BODIES = {200: b"", 302: b"", 401: b"not signed in\n", 403: b"forbidden\n", 500: b"error\n", 503: b"unavailable\n"}
_LENGTHS = {status: (b"content-length", str(len(body)).encode()) for status, body in _BODIES.items()}


def _header_value(text: str) -> bytes:
    # CR/LF are refused when names are saved; strip again so none can ever reach a header.
    return text.replace("\r", "").replace("\n", "").encode("utf-8")


def _identity_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    app, user = decision.app, decision.user
    if app is None:
        return []
    if user is not None and decision.shared_cookie_user is None:
        # Users and apps are immutable records: encode their headers once.
        cache_key = (id(user), app.header_keys)
        cached = _ENCODED.get(cache_key)
        if cached is not None and cached[0] is user:
            return cached[1]
        headers = _encode(app.header_keys, user, None)
        if len(_ENCODED) >= 10_000:
            _ENCODED.clear()
        _ENCODED[cache_key] = (user, headers)
        return headers
    return _encode(app.header_keys, user, decision.shared_cookie_user)


_ENCODED: dict[tuple[int, tuple[str, ...]], tuple[object, list[tuple[bytes, bytes]]]] = {}


def _encode(keys: tuple[str, ...], user, shared_cookie_user: str | None) -> list[tuple[bytes, bytes]]:
    """Every identity header, empty unless the app enables it: a snippet pasted
    before the app's headers were narrowed still copies a defined (empty)
    value, never a placeholder of its own (docs/proxies/caddy.md)."""
    out = []
    for key in _HEADER_NAMES:
        if key not in keys:
            value = b""
        elif shared_cookie_user is not None:
            value = _header_value(shared_cookie_user) if key == "user" else b""
        elif user is None:
            value = b""
        elif key == "user":
            value = _header_value(user.username)
        elif key == "email":
            value = _header_value(user.email)
        elif key == "groups":
            value = _header_value(user.groups_header)
        else:
            value = _header_value(user.display_name)
        out.append((_HEADER_NAMES[key], value))
    return out


class AnswerCache:
    """The answers to exact requests, remembered for as long as they stay true.

    An answer is kept under up to two keys, each the path, the query and
    headers: all the request's headers as they came (looked up first: built
    and compared without a line of Python per header), and only the headers
    /check reads (forwarded.read_headers; Accept-Language among them, for the
    refusal page), which is what the answer depends on. A request that misses
    the first but matches the second (the same browser with a new Referer,
    say) adds its whole-headers key. A key of either kind equals another only
    when both requests have the same read headers, so no request is ever given
    another's answer.

    An answer is given again only while the snapshot is the same object at the
    same generation (any change applied, a sign-out, a revoked grant, a
    disabled user, empties the cache before the next check is answered) and
    before Decision.until: the expiry of the one forward-auth cookie (or of
    its key) that decided it. Answers that no cookie decided (no app, a public
    path, a request without any forward-auth cookie) depend on the request
    and the snapshot alone.

    Two bounded tiers, each emptied when full: answers decided by a valid
    cookie, which only a signed-in person can add, and the rest, which anyone
    can add; a flood of made-up requests churns only the second tier and never
    pushes out a signed-in person's answers. A request with a forged, expired
    or ended cookie, or with more than one, is never remembered. Keys longer
    than MAX_KEY_BYTES are not kept."""

    MAX_ENTRIES = 4096
    MAX_ANONYMOUS = 1024
    MAX_KEY_BYTES = 4096

    def __init__(self) -> None:
        self._snap: object = None
        self._generation = -1
        self._answers: dict[tuple, tuple[float, str, dict, dict, ForwardedRequest]] = {}
        self._anonymous: dict[tuple, tuple[float, str, dict, dict, ForwardedRequest]] = {}

    def __len__(self) -> int:
        return len(self._answers) + len(self._anonymous)

    def get(self, snap, key: tuple, now: float) -> tuple[float, str, dict, dict, ForwardedRequest] | None:
        """(until, outcome, start, body, request) of a remembered answer still true now.
        Also marks the generation that a following `put` belongs to."""
        if snap is not self._snap or snap.generation != self._generation:
            self._answers.clear()
            self._anonymous.clear()
            self._snap, self._generation = snap, snap.generation
            return None
        hit = self._answers.get(key) or self._anonymous.get(key)
        if hit is None or now >= hit[0]:
            return None
        return hit

    def put(self, snap, key: tuple, answer: tuple[float, str, dict, dict, ForwardedRequest],
            signed_in: bool) -> None:
        """Keep the answer `get` missed, unless the snapshot changed meanwhile (the
        follower thread may apply a change while the decision is made)."""
        if snap is not self._snap or snap.generation != self._generation:
            return
        path, query, headers = key
        if len(path) + len(query) + sum(map(len, chain.from_iterable(headers))) > self.MAX_KEY_BYTES:
            return
        tier, limit = (self._answers, self.MAX_ENTRIES) if signed_in else (self._anonymous, self.MAX_ANONYMOUS)
        if len(tier) >= limit:
            tier.clear()
        tier[key] = answer

    def get_read(self, snap, key: tuple, exact: tuple,
                 now: float) -> tuple[float, str, dict, dict, ForwardedRequest] | None:
        """`get` by the read headers' key, after `exact` (the whole headers') missed;
        a hit is kept under `exact` too, in the tier it came from."""
        hit = self.get(snap, key, now)
        if hit is not None:
            self.put(snap, exact, hit, signed_in=key in self._answers)
        return hit


# A forward-auth cookie younger than this, for a user the snapshot does not know, is a newcomer
# whose creation has not reached this worker yet; the check waits for it at most NEWCOMER_WAIT.
NEWCOMER_SECONDS = 10.0
NEWCOMER_WAIT = 1.0


class CheckHandler:
    def __init__(self, holder: SnapshotHolder, portal_url: Callable[[str, str], str], allow_http: bool,
                 clock: Callable[[], float] = time.time):
        self.holder = holder
        self.portal_url = portal_url
        self.allow_http = allow_http
        self.clock = clock
        self.answers = AnswerCache()

    async def __call__(self, scope, receive, send) -> None:
        started = time.perf_counter()  # counted and timed in batches by observability/metrics.py
        outcome, start, body, req = self.answer(scope)
        if outcome == NOT_SIGNED_IN and self.waits_for_newcomer(req):
            outcome, start, body, req = await self._once_followed(scope)
        await send(start)
        await send(body)
        check_answered(outcome, started, req)

    def waits_for_newcomer(self, req: ForwardedRequest | None) -> bool:
        """Whether a "not signed in" answer must wait for the snapshot instead
        (`_once_followed`): the request carries a newcomer's cookie. Asked by
        every server path that answers checks (gate/uvicorn_protocol.py too)."""
        return req is not None and bool(req.cookies) and self._newcomer(req)

    def _newcomer(self, req: ForwardedRequest) -> bool:
        """A forward-auth cookie signed moments ago for a person this worker's
        snapshot does not know yet: someone just created (a first sign-in
        through a provider, say) whose handshake another worker answered.
        Only refusals with a cookie come here, never the allowed path."""
        snap = self.holder.snapshot
        domain = snap.portal_hosts.get(req.portal_host or "")
        if domain is None:
            return False
        now = self.clock()
        identity = cookie_identity(snap, req.cookies, domain, now)
        return (identity is not None and identity.get("u") not in snap.users
                and identity.get("s") not in snap.ended_sessions
                and now - float(identity.get("iat") or 0) <= NEWCOMER_SECONDS)

    async def _once_followed(self, scope) -> tuple[str, dict, dict, ForwardedRequest | None]:
        """Wake the follower and wait (at most the one-second propagation bound,
        without blocking the worker) for the newcomer to reach this snapshot,
        then decide again: else the browser would be sent round the handshake
        until the change arrived (docs/contract.md §3)."""
        self.holder.wake()
        deadline = time.monotonic() + NEWCOMER_WAIT
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            outcome, start, body, req = self.answer(scope)
            if outcome != NOT_SIGNED_IN or req is None or not self._newcomer(req):
                return outcome, start, body, req
        return self.answer(scope)

    def answer(self, scope) -> tuple[str, dict, dict, ForwardedRequest | None]:
        """The outcome, the two response messages for one check and the request
        it answers (for a remembered answer, the request it was decided for: the
        same key reads as the same request). Every check of this worker passes
        here, remembered or decided."""
        snap = self.holder.snapshot
        try:
            now = self.clock()
            path, query, raw = scope["path"], scope.get("query_string", b""), scope["headers"]
            exact = (path, query, tuple(raw))
            hit = self.answers.get(snap, exact, now)
            if hit is not None:
                return hit[1], hit[2], hit[3], hit[4]
            key = (path, query, read_headers(raw))
            # The two keys differ only when the request has headers /check does not read.
            differs = len(key[2]) != len(raw)
            hit = self.answers.get_read(snap, key, exact, now) if differs else None
            if hit is not None:
                return hit[1], hit[2], hit[3], hit[4]
            req = parse_forwarded_request(key[2], query, path)
            decision = decide(snap, req, now, self.portal_url, self.allow_http)
        except Exception:  # fail closed: no error path answers 2xx
            return (ERROR,) + _messages(500, [_NO_STORE, _TEXT]) + (None,)  # nothing read to log
        until = decision.until
        if decision.outcome == NO_APP:
            if _explain_incomplete(req, snap):
                until = None  # answered afresh, so the warning comes back each minute it still applies
        elif decision.outcome == UNAVAILABLE and decision.app is not None:
            _explain_broken_source(decision.app, snap)
        headers = [_NO_STORE]
        page = None
        if decision.status == 200:
            headers.extend(_identity_headers(decision))
        elif decision.outcome == FORBIDDEN and decision.app is not None and refusal_page.accepts_html(key[2]):
            # docs/contract.md §3; in the browser's language (read from the raw headers only here).
            # Accept-Language is part of the key: the page is remembered per browser language.
            page, page_headers = refusal_page.render(snap, decision, req, self.portal_url,
                                                     refusal_page.accept_language(key[2]))
            headers.extend(page_headers)
        else:
            headers.append(_TEXT)
        if decision.location is not None:
            loc = decision.location.encode("ascii")
            headers.append((b"location" if decision.status == 302 else _LOCATION, loc))
            if decision.status == 401 and req.answer_401 and req.navigation:
                headers.append(_NAVIGATION)  # the proxy turns this 401 into the redirect
        start, body = _messages(decision.status, headers, page)
        if until is not None:
            answer = (until, decision.outcome, start, body, req)
            self.answers.put(snap, key, answer, signed_in=decision.user is not None)
            if differs:
                self.answers.put(snap, exact, answer, signed_in=decision.user is not None)
        return decision.outcome, start, body, req


def _explain_incomplete(req: ForwardedRequest, snap) -> bool:
    """Whether the request lacked something (logged at most once a minute per reason)."""
    portal = req.portal_host if req.portal_host in snap.portal_hosts else None
    missing = [name for name, value in (("Host header (or /forward-auth/check/<host>) naming a portal host", portal),
                                        ("X-Forwarded-Host", req.host), ("X-Forwarded-Uri", req.uri),
                                        ("X-Forwarded-Proto", req.proto)) if value is None]
    if not missing:
        return False  # a complete request for an app Ostiary does not know: nothing to explain
    now, reason = time.monotonic(), tuple(missing)
    if now - _incomplete_logged.get(reason, -_INCOMPLETE_EVERY) < _INCOMPLETE_EVERY:
        return True
    _incomplete_logged[reason] = now  # at most 15 reasons: subsets of four names
    log.warning(
        "forward-auth check refused (403): it arrived without a valid %s. The proxy must send them "
        "straight to Ostiary; a hop that does not trust the proxy (e.g. Traefik's own entry point) "
        "deletes or rewrites them. See docs/proxies/ for your proxy.", ", ".join(missing))
    return True


class CheckDomainHandler:
    """Caddy's on-demand TLS `ask`: may a certificate be issued for this name?
    Only the proxy itself asks (gate/operators.py): anyone else gets the
    answer for an unknown name, so the hosts Ostiary serves cannot be listed."""

    def __init__(self, holder: SnapshotHolder, operators: tuple):
        self.holder = holder
        self.operators = operators

    async def __call__(self, scope, receive, send) -> None:
        if not asks_directly(scope, self.operators):
            _explain_indirect_ask(scope)
            await _respond(send, 404, [_NO_STORE, _TEXT])
            return
        snap = self.holder.snapshot
        domain = b""
        for part in scope.get("query_string", b"").split(b"&"):
            if part.startswith(b"domain="):
                domain = part[7:]
        name = normalise_hostname(domain.decode("ascii", "replace")) if domain else None
        known = name is not None and (name in snap.portal_hosts or name in snap.tenant_hosts)
        await _respond(send, 200 if known else 404, [_NO_STORE, _TEXT])


_broken_logged: set[tuple[str, str]] = set()


def _explain_broken_source(app, snap) -> None:
    domain = snap.domains.get(app.domain_id)
    source = app.shared_cookie or (domain.shared_cookie if domain else None)
    problem = getattr(source, "problem", None)
    if problem is not None:
        log_broken_source_once(f"app {app.name}", problem)


def log_broken_source_once(subject: str, problem: str) -> None:
    """Once per worker and problem: why a shared-cookie identity source answers 503 to every check
    (logged at the first such check, or when /readyz finds it, whichever comes first)."""
    if (subject, problem) in _broken_logged:
        return
    _broken_logged.add((subject, problem))
    log.error("%s answers 503 to every request: its shared-cookie identity source cannot verify: %s "
              "(docs/shared-cookie.md; /readyz and `ostiary doctor` name it until it is fixed)",
              subject, problem.replace("\n", " "))


def _explain_indirect_ask(scope) -> None:
    now = time.monotonic()
    if now - _incomplete_logged.get(("ask",), -_INCOMPLETE_EVERY) < _INCOMPLETE_EVERY:
        return
    _incomplete_logged[("ask",)] = now
    peer = (scope.get("client") or ("unknown",))[0]
    log.warning("on-demand TLS ask from %s refused (404): it was forwarded by a proxy or came from a peer outside "
                "loopback and OSTIARY_TRUSTED_PROXIES. Point the proxy's `ask` straight at Ostiary "
                "(docs/operations.md, \"Operator endpoints\").", peer)


def _messages(status: int, headers: list[tuple[bytes, bytes]], body: bytes | None = None) -> tuple[dict, dict]:
    """The two ASGI messages of an answer, `headers` (a new list, kept as it
    is) becoming the start's; `body` is the status's usual one unless given
    (the refusal page). Sent as they are, never changed afterwards: a
    remembered answer sends the same two again."""
    if body is None:
        body = _BODIES.get(status, b"")
        headers.append(_LENGTHS.get(status) or (b"content-length", str(len(body)).encode()))
    else:
        headers.append((b"content-length", str(len(body)).encode()))
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body})


async def _respond(send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    start, body = _messages(status, headers)
    await send(start)
    await send(body)
