"""Audit entries as log events, once their transaction has committed
(docs/operations.md, "Events"). The store calls this for every audit entry
it writes, so it needs nothing but the log (ostiary/observability/logs.py):
not the metrics, which read the store themselves."""

from __future__ import annotations

import json
import logging
from typing import Any

from ostiary.dns.status import DomainStatus
from ostiary.observability.logs import event

# Audit actions that change a domain's state: logged as domain.state_changed.
# None: the verification's outcome decides; "deleted" is no state, the domain is gone.
DOMAIN_STATE_ACTIONS = {"domain.add": DomainStatus.PENDING.value, "domain.verify": None,
                        "domain.flag": DomainStatus.FLAGGED.value, "domain.unflag": DomainStatus.VERIFIED.value,
                        "domain.disable": DomainStatus.DISABLED.value, "domain.expire": "deleted",
                        "domain.delete": "deleted"}


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
