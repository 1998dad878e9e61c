"""Liveness, readiness and metrics.

`/healthz` and the status of `/readyz` answer anyone (load balancers and
orchestrators probe them); the details of `/readyz` and `/metrics` answer
only requests straight from loopback, the trusted proxies or the operator's
networks, never through the public proxy (gate/operators.py,
docs/operations.md "Operator endpoints").

Readiness: "starting" (503) until this worker's snapshot is loaded, so a
restarted instance gets no traffic before it can decide; "ready" (200);
"degraded" (200) when the database is unreachable but the snapshot is
loaded, when a shared-cookie identity source cannot verify (its app
answers 503), or when this instance's clock is further from the database's
than the signing leeway (services/base/clock.py): the gate still answers signed-in people, and taking every instance
out of the load balancer during a database outage would turn it into a
full outage."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ostiary.gate.asgi import log_broken_source_once
from ostiary.gate.operators import asks_directly, operator_networks
from ostiary.observability.metrics import flush, in_worker_exposition
from ostiary.portal.instance import instance
from ostiary.services.base.availability import database_reachable
from ostiary.services.base.clock import CLOCK_LEEWAY, database_clock_offset
from ostiary.sharedcookie.verifier.source_config import BrokenSource



def from_operator(request: Request) -> bool:
    settings = instance(request).settings
    return asks_directly(request.scope, operator_networks(settings.trusted_proxies, settings.operator_networks))


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers={"cache-control": "no-store"})


async def readyz(request: Request) -> Response:
    inst = instance(request)
    loaded = inst.holder.snapshot.loaded
    database = await run_in_threadpool(database_reachable, inst.store)
    offset = await run_in_threadpool(_clock_offset, inst.store) if database else None
    skewed = offset is not None and abs(offset) > CLOCK_LEEWAY
    broken = broken_shared_cookie_sources(inst.holder.snapshot)
    for subject, problem in broken.items():
        log_broken_source_once(subject, problem)
    healthy = database and not broken and not skewed
    status = "ready" if loaded and healthy else ("degraded" if loaded else "starting")
    holder = inst.holder
    body = {"status": status}
    if from_operator(request):
        body.update({
            "identity_sources_broken": broken,
            "clock_offset_seconds": None if offset is None else round(offset, 3),
            "clock_leeway_seconds": CLOCK_LEEWAY,
            "snapshot_loaded": loaded, "database_reachable": database,
            "seconds_since_sync": round(time.time() - holder.last_poll_ok_at, 3) if holder.last_poll_ok_at else None,
            "change_listener": "listening" if holder.listening else ("off" if not inst.store.is_postgresql else "reconnecting"),
        })
    return JSONResponse(body, status_code=503 if status == "starting" else 200, headers={"cache-control": "no-store"})


def _clock_offset(store) -> float | None:
    try:
        return database_clock_offset(store)
    except Exception:  # the database went away between the two queries: readiness already says so
        return None


def broken_shared_cookie_sources(snap) -> dict[str, str]:
    """"app NAME" / "domain NAME" -> why its shared-cookie source cannot verify (every check 503s)."""
    broken = {f"domain {d.name}": d.shared_cookie.problem for d in snap.domains.values()
              if isinstance(d.shared_cookie, BrokenSource)}
    broken.update({f"app {a.name}": a.shared_cookie.problem for a in snap.apps.values()
                   if isinstance(a.shared_cookie, BrokenSource)})
    return broken


async def metrics(request: Request) -> Response:
    if not from_operator(request):
        raise HTTPException(status_code=404)  # the answer for a path that does not exist
    # Every worker's metrics summed, as on the OSTIARY_METRICS_LISTEN listener (observability/metrics.py).
    inst = instance(request)
    flush()  # this worker's /check tallies, here on the event loop that counts them
    body = await run_in_threadpool(in_worker_exposition, inst.settings.effective_database_url)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
