"""The events an operator needs, each logged once and counted where it has a
metric (docs/operations.md, "Events"). Callers pass what they know; names
and fields are fixed here so the docs, the fail2ban filter and the code
agree."""

from __future__ import annotations

import json
import logging
from typing import Any

from ostiary.dns.status import DomainStatus
from ostiary.observability.logs import event
from ostiary.observability.metrics import worker_metrics

# Audit actions that change a domain's state: logged as domain.state_changed.
# None: the verification's outcome decides; "deleted" is no state, the domain is gone.
DOMAIN_STATE_ACTIONS = {"domain.add": DomainStatus.PENDING.value, "domain.verify": None,
                        "domain.flag": DomainStatus.FLAGGED.value, "domain.unflag": DomainStatus.VERIFIED.value,
                        "domain.disable": DomainStatus.DISABLED.value, "domain.expire": "deleted",
                        "domain.delete": "deleted"}


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


def audit_written(tenant_id: int | None, actor: str, client: str, action: str, entity: str, entity_id: Any,
                  detail: Any) -> None:
    """Every audit entry, once its transaction has committed: admin and API
    changes, domain state changes and key rotations among them."""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail or "{}")
        except ValueError:
            detail = {"raw": detail}
    name, extra = "audit", {}
    if action in DOMAIN_STATE_ACTIONS:
        name = "domain.state_changed"
        state = DOMAIN_STATE_ACTIONS[action]
        if state is None:
            verified = isinstance(detail, dict) and detail.get("verified")
            state = (DomainStatus.VERIFIED if verified else DomainStatus.FAILED).value
        extra = {"state": state}
    elif action == "keys.rotate":
        name = "keys.rotated"
    level = logging.WARNING if action in ("domain.disable", "domain.flag") else logging.INFO
    event(name, level, client=client, tenant_id=tenant_id, actor=actor, action=action, entity=entity,
          entity_id=str(entity_id), **extra, detail=detail)


def after_commit(conn, emit) -> None:
    """Run `emit` once `conn`'s transaction has committed (Store.write), or
    now when the connection is not inside one of Store.write's transactions."""
    pending = conn.info.get("ostiary_after_commit")
    if pending is None:
        emit()
    else:
        pending.append(emit)


def run_after_commit(pending: list) -> None:
    for emit in pending:
        try:
            emit()
        except Exception:  # a log line must never undo a committed change
            logging.getLogger("ostiary.events").exception("could not log an event")


def snapshot_loaded(change_id: int, users: int, apps: int, seconds: float) -> None:
    worker_metrics().snapshot_loads.inc()
    event("snapshot.loaded", change_id=change_id, users=users, apps=apps, seconds=round(seconds, 3))


def database_unreachable(error: str) -> None:
    event("database.unreachable", logging.ERROR, error=error[:500])


def database_back(after_seconds: float) -> None:
    event("database.back", logging.WARNING, after_seconds=round(after_seconds, 1))
