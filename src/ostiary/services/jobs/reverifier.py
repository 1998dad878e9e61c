"""The re-verifier: the background job that re-verifies protected domains (docs/contract.md §6),
applying dns/recheck.py's rules.

Every `reverify_interval` seconds one worker of the installation — whichever takes the lease —
re-checks the TXT record of every verified domain, in parallel. A domain whose record is gone is
flagged (`flagged_at` set; still served, shown as flagged); flagged for longer than
`domain_grace_seconds`, it is disabled (status "disabled", no longer served); when the record
returns, the flag is cleared. A timeout or server error proves nothing and changes nothing.
Each round also deletes registrations never verified within their 7 days (services/rules/domains.py).

The work runs in its own thread with its own database connections, so request handling never
waits for it.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from ostiary.config import Settings
from ostiary.dns import recheck as rules
from ostiary.dns.recheck import TrackedDomain, Transition
from ostiary.dns.status import DomainStatus
from ostiary.services.base.actor import Actor
from ostiary.services.queries.audit import prune_audit_log
from ostiary.services.rules.domains import PENDING_LIFETIME, delete_expired
from ostiary.services.rules.tenants import list_tenants
from ostiary.store import Store, TenantScope, open_store
from ostiary.store.changes import Entity
from ostiary.store.tables import domains, installation

log = logging.getLogger("ostiary.reverification")

LEASE_KEY = "reverify_lease"
REVERIFY_ACTOR = Actor(name="system:reverify")
# Names RFC 6761 keeps out of DNS (`ostiary demo` uses them with verification skipped): never re-checked.
NEVER_IN_DNS = ("localhost",)


@dataclass(frozen=True)
class Due:
    """A verified domain as loaded at the start of a round."""

    tenant_id: int
    domain_id: int
    tracked: TrackedDomain


# --- the lease --------------------------------------------------------------------------------

def _lease_value(holder: str, until: float, last_round: float | None) -> str:
    return json.dumps({"holder": holder, "until": until, "last_round": last_round}, sort_keys=True)


def take_lease(store: Store, holder: str, seconds: float, min_gap: float = 0.0, now: float | None = None) -> bool:
    """Take the installation-wide re-verification lease for `seconds`; False if another holds it,
    or a round finished less than `min_gap` seconds ago.

    A compare-and-swap on one `installation` row: the UPDATE only matches the value read, so of
    two workers racing for an expired lease exactly one wins, on SQLite and PostgreSQL alike.
    """
    now = time.time() if now is None else now
    with store.write() as conn:
        current = conn.execute(select(installation.c.value).where(installation.c.key == LEASE_KEY)).scalar()
        if current is not None:
            lease = _parse_lease(current)
            if lease["holder"] != holder and lease["until"] > now:
                return False
            if lease["last_round"] is not None and now - lease["last_round"] < min_gap:
                return False
            taken = conn.execute(
                update(installation)
                .where(installation.c.key == LEASE_KEY, installation.c.value == current)
                .values(value=_lease_value(holder, now + seconds, lease["last_round"]))
            ).rowcount
            return taken == 1
    try:
        with store.write() as conn:
            conn.execute(insert(installation).values(key=LEASE_KEY, value=_lease_value(holder, now + seconds, None)))
        return True
    except IntegrityError:  # another worker inserted the row first
        return False


def release_lease(store: Store, holder: str, round_finished: float | None = None) -> None:
    """Give the lease up (only if still ours), noting when the round finished."""
    with store.write() as conn:
        current = conn.execute(select(installation.c.value).where(installation.c.key == LEASE_KEY)).scalar()
        if current is None or _parse_lease(current)["holder"] != holder:
            return
        last = round_finished if round_finished is not None else _parse_lease(current)["last_round"]
        conn.execute(
            update(installation)
            .where(installation.c.key == LEASE_KEY, installation.c.value == current)
            .values(value=_lease_value(holder, 0.0, last))
        )


def _parse_lease(value: str) -> dict:
    try:
        lease = json.loads(value)
        return {"holder": str(lease["holder"]), "until": float(lease["until"]),
                "last_round": None if lease.get("last_round") is None else float(lease["last_round"])}
    except (ValueError, KeyError, TypeError):
        return {"holder": "", "until": 0.0, "last_round": None}  # unreadable: treat as free


# --- one round --------------------------------------------------------------------------------

def due_domains(store: Store) -> list[Due]:
    """Every verified domain of every tenant (flagged ones included), as the round will check them."""
    due: list[Due] = []
    tenants = list_tenants(store)
    with store.read() as conn:
        for tenant in tenants:
            verified = domains.c.status == DomainStatus.VERIFIED
            for row in TenantScope(conn, tenant.id).rows(domains, verified, order_by=domains.c.id):
                if _never_in_dns(row.name):
                    continue
                state = DomainStatus.FLAGGED if row.flagged_at is not None else DomainStatus.VERIFIED
                due.append(Due(tenant.id, row.id, TrackedDomain(row.name, row.verification_token, state, row.flagged_at)))
    return due


def _never_in_dns(name: str) -> bool:
    return any(name == suffix or name.endswith("." + suffix) for suffix in NEVER_IN_DNS)


def record_recheck(store: Store, tenant_id: int, domain_id: int, checked: TrackedDomain,
                   transition: Transition, now: float) -> Row | None:
    """Store what a re-check found. Returns the updated row, or None when nothing was stored
    (the check was inconclusive, or the domain changed or went away while it ran)."""
    if transition.result is None or not transition.result.conclusive:
        return None
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = scope.one(domains, domains.c.id == domain_id)
        # The operator may have re-verified, changed or deleted the domain meanwhile: then this result is stale.
        if (row is None or row.status != DomainStatus.VERIFIED or row.verification_token != checked.token
                or row.flagged_at != checked.flagged_since):
            return None
        values: dict = {"last_checked_at": now, "status_reason": transition.reason}
        action = None
        if transition.state == DomainStatus.VERIFIED:
            values["flagged_at"] = None
            if checked.state == DomainStatus.FLAGGED:
                action = "domain.unflag"
        elif transition.state == DomainStatus.FLAGGED:
            values["flagged_at"] = transition.flagged_since
            if checked.state == DomainStatus.VERIFIED:
                action = "domain.flag"
        elif transition.state == DomainStatus.DISABLED:
            values["status"] = DomainStatus.DISABLED
            action = "domain.disable"
        if transition.state == DomainStatus.VERIFIED and action is None:
            values.pop("status_reason")  # keep the reason given when it was verified
        scope.update(domains, domains.c.id == domain_id, **values)
        if action:
            scope.audit(REVERIFY_ACTOR.name, action, "domain", domain_id, REVERIFY_ACTOR.addr,
                        name=row.name, reason=transition.reason)
            scope.changed(Entity.DOMAIN, domain_id)
        return scope.one(domains, domains.c.id == domain_id)


def reverify_round(store: Store, settings: Settings, *, max_workers: int = 16, max_seconds: float | None = None,
                   now: Callable[[], float] = time.time) -> list[Transition]:
    """Re-check every verified domain once and store each change. Returns the transitions.

    The DNS checks of a batch end within `max_seconds` (when given); any still unanswered then
    count as timeouts, which change nothing.
    """
    try:
        for row in delete_expired(store, now()):
            log.warning("domain %s (portal host %s): never verified within %d days, its registration expired",
                        row.name, row.portal_host, PENDING_LIFETIME // 86400)
    except Exception:  # expiry is housekeeping: it must not stop the re-checks
        log.exception("could not delete expired domain registrations")
    due = due_domains(store)
    transitions: list[Transition] = []
    for batch in _unique_name_batches(due):
        # Every check is bounded by the DNS timeout; max_workers of them run at once.
        bound = settings.dns_timeout * math.ceil(len(batch) / max_workers) + 1.0
        started = now()
        decided = rules.recheck_domains(
            [d.tracked for d in batch],
            now=started,
            grace=settings.domain_grace_seconds,
            resolvers=settings.dns_resolvers,
            timeout=settings.dns_timeout,
            overall_timeout=min(bound, max_seconds) if max_seconds else bound,
            max_workers=max_workers,
        )
        for item, transition in zip(batch, decided):
            try:
                record_recheck(store, item.tenant_id, item.domain_id, item.tracked, transition, now())
            except Exception:  # one domain's trouble must not stop the others
                log.exception("could not store the re-check of domain %s", item.tracked.domain)
            if transition.changed:
                log.warning("domain %s: %s -> %s: %s", transition.domain, transition.previous_state,
                            transition.state, transition.reason)
            elif transition.result is not None and not transition.result.conclusive:
                log.warning("domain %s: %s", transition.domain, transition.reason)
            transitions.append(transition)
    return transitions


def _unique_name_batches(due: list[Due]) -> list[list[Due]]:
    # Results are keyed by domain name; the same name verified in two tenants (refused by
    # record_verification, but possible in a race) goes into a second batch.
    batches: list[list[Due]] = []
    for item in due:
        for batch in batches:
            if all(other.tracked.domain != item.tracked.domain for other in batch):
                batch.append(item)
                break
        else:
            batches.append([item])
    return batches


# --- the background worker --------------------------------------------------------------------

class Reverifier:
    """Runs `reverify_round` every `interval` seconds in a daemon thread, under the lease.

    interval, first_delay and lease_seconds default from the settings; tests pass short ones.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        interval: float | None = None,
        first_delay: float | None = None,
        lease_seconds: float | None = None,
        max_workers: int = 16,
        holder_id: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.interval = float(interval if interval is not None else settings.reverify_interval)
        # Not at once: a worker that restarts in a loop should not hammer DNS.
        self.first_delay = float(first_delay if first_delay is not None else min(60.0, self.interval))
        # Half of it bounds the round's DNS checks; the rest leaves time for the writes.
        self.lease_seconds = float(lease_seconds if lease_seconds is not None else max(600.0, 4 * settings.dns_timeout))
        self.max_workers = max_workers
        self.holder_id = holder_id or f"reverifier-{secrets.token_hex(6)}"
        self.rounds: list[tuple[float, float]] = []  # (start, end) of each round this worker ran
        self._own_store: Store | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[Transition] | None:
        """One round if the lease can be taken; None when another worker has it or ran one just now."""
        store = self._own_store or self.store
        # Several workers wake every interval; half an interval after any round, another is not due.
        if not take_lease(store, self.holder_id, self.lease_seconds, min_gap=self.interval / 2):
            return None
        started = time.time()
        finished = None
        try:
            # The checks end well before the lease does, so no other worker starts a round meanwhile.
            transitions = reverify_round(store, self.settings, max_workers=self.max_workers,
                                         max_seconds=max(self.settings.dns_timeout + 1.0, self.lease_seconds / 2))
            # The same periodic job, under the same lease, keeps the audit log to its retention.
            prune_audit_log(store, self.settings.audit_retention_days)
            finished = time.time()
            return transitions
        finally:
            self.rounds.append((started, time.time()))
            release_lease(store, self.holder_id, finished)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._own_store = open_store(self.store.url)
        self._thread = threading.Thread(target=self._run, name="ostiary-reverifier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None:
            thread.join(timeout if timeout is not None else self.settings.dns_timeout + 5)
        if self._own_store is not None and (thread is None or not thread.is_alive()):
            self._own_store.dispose()
            self._own_store = None

    def _run(self) -> None:
        wait = self.first_delay
        while not self._stopping.wait(wait):
            try:
                self.run_once()
            except Exception:  # the database may be away for a moment; try again next time
                log.exception("re-verification round failed")
            wait = max(self.interval, 0.05)  # never a busy loop, whatever the setting says
