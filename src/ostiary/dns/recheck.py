"""Re-checking protected domains in DNS, the rules of re-verification: which state a domain moves
to after a fresh check, and checking many at once. The background job that applies them on a
timer is services/jobs/reverifier.py.

States (docs/contract.md §6, named in dns/status.py): pending, verified, failed, plus two the
background check sets — flagged (a verified domain whose record went missing, with the time it
was first missed) and disabled (flagged for longer than the operator's grace period).
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Sequence, Union

from ostiary.dns import verification
from ostiary.dns.resolvers import Resolvers
from ostiary.dns.status import DomainStatus
from ostiary.dns.verification import ChallengeResult

# Only these are re-checked in the background; pending, failed and disabled domains wait for the
# operator's `ostiary domain verify`, so a disabled domain is never switched back on unseen.
RECHECKED_STATES = frozenset({DomainStatus.VERIFIED, DomainStatus.FLAGGED})


# Times are either aware datetimes or epoch seconds (as the store keeps them); use one kind throughout.
Moment = Union[datetime, float]
Span = Union[timedelta, float]  # a timedelta, or seconds


@dataclass(frozen=True)
class TrackedDomain:
    domain: str
    token: str
    state: str
    flagged_since: Moment | None = None


@dataclass(frozen=True)
class Transition:
    domain: str
    previous_state: str
    state: str
    flagged_since: Moment | None
    reason: str
    result: ChallengeResult | None = None

    @property
    def changed(self) -> bool:
        return self.state != self.previous_state


def next_state(tracked: TrackedDomain, result: ChallengeResult, now: Moment, grace: Span) -> Transition:
    """The state after a fresh check. Pure: the time is passed in.

    A timeout or server error says nothing about the record, so it never flags or disables;
    it is only reported.
    """
    def move(state: str, flagged_since: Moment | None, reason: str) -> Transition:
        return Transition(tracked.domain, tracked.state, state, flagged_since, reason, result)

    grace_seconds = grace.total_seconds() if isinstance(grace, timedelta) else float(grace)
    if tracked.state not in RECHECKED_STATES:
        return move(tracked.state, tracked.flagged_since, f"{tracked.state} domains are not re-checked")
    if result.verified:
        return move(DomainStatus.VERIFIED, None, result.reason)
    if not result.conclusive:
        return move(tracked.state, tracked.flagged_since, f"could not re-check, state kept: {result.reason}")
    if tracked.state == DomainStatus.VERIFIED:
        return move(DomainStatus.FLAGGED, now, f"record missing, flagged; disabled after {_duration(grace_seconds)} unless it returns: {result.reason}")
    since = tracked.flagged_since if tracked.flagged_since is not None else now
    if _seconds_between(since, now) >= grace_seconds:
        return move(DomainStatus.DISABLED, since, f"record missing since {_when(since)} (grace {_duration(grace_seconds)}), disabled: {result.reason}")
    return move(DomainStatus.FLAGGED, since, f"record missing since {_when(since)}; disabled after {_duration(grace_seconds)}: {result.reason}")


def _seconds_between(earlier: Moment, later: Moment) -> float:
    if isinstance(earlier, datetime) and isinstance(later, datetime):
        return (later - earlier).total_seconds()
    return float(later) - float(earlier)  # type: ignore[arg-type]


def _when(moment: Moment) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    return moment.isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600} h"
    return f"{seconds} s"


Check = Callable[[str, str, "Resolvers | None", float], ChallengeResult]


def check_many(
    pairs: Iterable[tuple[str, str]],
    *,
    resolvers: Resolvers | None,
    timeout: float,
    overall_timeout: float,
    max_workers: int = 16,
    check: Check = verification.check_challenge,
) -> dict[str, ChallengeResult]:
    """Check each (domain, token) in its own thread; returns within about `overall_timeout` seconds.

    A check still running at the bound is reported as a timeout and left to finish on its own
    (each is bounded by `timeout`), so one slow DNS server never holds up the rest.
    """
    pairs = list(pairs)
    if not pairs:
        return {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ostiary-dns")
    try:
        futures = {pool.submit(check, domain, token, resolvers, timeout): (domain, token) for domain, token in pairs}
        done, _ = concurrent.futures.wait(futures, timeout=overall_timeout)
        results: dict[str, ChallengeResult] = {}
        for future, (domain, token) in futures.items():
            if future in done and future.exception() is None:
                results[domain] = future.result()
            else:
                results[domain] = _unfinished(domain, token, future, overall_timeout)
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _unfinished(domain: str, token: str, future: concurrent.futures.Future, bound: float) -> ChallengeResult:
    name, expected = verification.challenge_name(domain), verification.expected_value(token)
    if future.done() and future.exception() is not None:
        kind, message = verification.SERVER_FAILURE, f'checking "{name}" failed: {future.exception()!r}'
        fix = "report this as a bug; the check will run again on the next pass"
    else:
        kind = verification.TIMEOUT
        message = f'checking "{name}" did not finish within the overall bound of {bound:g} s'
        fix = f'check the DNS servers for "{domain}" and try again'
    return ChallengeResult(domain, name, expected, DomainStatus.FAILED, kind, message, fix)


def recheck_domains(
    tracked: Sequence[TrackedDomain],
    *,
    now: Moment,
    grace: Span,
    resolvers: Resolvers | None,
    timeout: float,
    overall_timeout: float,
    max_workers: int = 16,
    check: Check = verification.check_challenge,
) -> list[Transition]:
    """One background pass: check every verified or flagged domain and decide its next state."""
    due = [t for t in tracked if t.state in RECHECKED_STATES]
    results = check_many(
        [(t.domain, t.token) for t in due],
        resolvers=resolvers,
        timeout=timeout,
        overall_timeout=overall_timeout,
        max_workers=max_workers,
        check=check,
    )
    return [next_state(t, results[t.domain], now, grace) for t in due]
