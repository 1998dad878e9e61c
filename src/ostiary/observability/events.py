"""The events an operator needs, each logged once and counted where it has a
metric (docs/operations.md, "Events"). Callers pass what they know; names
and fields are fixed here so the docs, the fail2ban filter and the code
agree. Audit entries become events in observability/audit_events.py."""

from __future__ import annotations

import logging

from ostiary.observability.logs import event
from ostiary.observability.metrics import worker_metrics


def _login(value: str) -> str:
    return value[:320]


def sign_in_succeeded(tenant: str, login: str, client: str, method: str, via: str = "") -> None:
    worker_metrics().sign_ins.labels(method, "succeeded").inc()
    event("signin.succeeded", client=client, tenant=tenant, login=_login(login), method=method,
          **({"via": via} if via else {}))


def sign_in_failed(tenant: str, login: str, client: str, method: str, reason: str, via: str = "") -> None:
    """A refused sign-in; fail2ban's filter matches these (observability/fail2ban/)."""
    worker_metrics().sign_ins.labels(method, "failed").inc()
    event("signin.failed", logging.WARNING, client=client, tenant=tenant, login=_login(login), method=method,
          reason=reason, **({"via": via} if via else {}))


def sign_in_throttled(tenant: str, login: str, client: str, method: str, retry_after: float) -> None:
    m = worker_metrics()
    m.sign_ins.labels(method, "throttled").inc()
    m.throttled.labels("sign_in").inc()
    event("signin.throttled", logging.WARNING, client=client, tenant=tenant, login=_login(login), method=method,
          retry_after=round(retry_after))


def second_factor_failed(tenant: str, login: str, client: str, throttled: bool = False) -> None:
    m = worker_metrics()
    m.second_factor.labels("throttled" if throttled else "failed").inc()
    if throttled:
        m.throttled.labels("second_factor").inc()
    event("second_factor.throttled" if throttled else "second_factor.failed", logging.WARNING, client=client,
          tenant=tenant, login=_login(login), method="totp")


def second_factor_passed() -> None:
    worker_metrics().second_factor.labels("passed").inc()


def handshake_completed() -> None:
    worker_metrics().handshakes.labels("completed", "").inc()


def handshake_refused(client: str, reason: str, host: str, detail: str = "") -> None:
    """The handshake (start, authorize, callback) refused a browser; `reason` is a short fixed code."""
    worker_metrics().handshakes.labels("refused", reason).inc()
    event("handshake.refused", logging.INFO, client=client, reason=reason, host=host,
          **({"detail": detail[:300]} if detail else {}))


def snapshot_loaded(change_id: int, users: int, apps: int, seconds: float) -> None:
    worker_metrics().snapshot_loads.inc()
    event("snapshot.loaded", change_id=change_id, users=users, apps=apps, seconds=round(seconds, 3))


def database_unreachable(error: str) -> None:
    event("database.unreachable", logging.ERROR, error=error[:500])


def database_back(after_seconds: float) -> None:
    event("database.back", logging.WARNING, after_seconds=round(after_seconds, 1))
