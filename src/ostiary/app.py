"""The ASGI application one worker runs: the gate's two endpoints are
dispatched before any framework routing; everything else is the portal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

from ostiary.config import Settings, load_settings
from ostiary.gate.asgi import CheckDomainHandler, CheckHandler
from ostiary.gate.operators import operator_networks
from ostiary.observability import logs, metrics
from ostiary.observability.logs import RequestIdMiddleware
from ostiary.portal.app import HardenResponses, build_portal
from ostiary.portal.instance import Instance
from ostiary.services.base import passwords
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.store import open_store
from ostiary.store.engine import DatabaseNotReady
from ostiary.wire import CADDY_CHECK_DOMAIN_PATH, CHECK_PATH

log = logging.getLogger("ostiary")


def _server_name() -> str:
    """The HTTP server running this worker, for its "ready" line (docs/configuration.md, "Serving")."""
    if "granian" in sys.modules:
        return "granian"
    for parser in ("httptools", "h11"):
        if f"uvicorn.protocols.http.{parser}_impl" in sys.modules:
            return f"uvicorn ({parser})"
    return "another ASGI server"


class OstiaryApp:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = open_store(settings.effective_database_url, settings.secret_box())
        self.holder = SnapshotHolder(self.store, settings.change_poll_interval)
        self.instance = Instance(settings=settings, store=self.store, holder=self.holder)
        self.check = CheckHandler(self.holder, settings.public_url, allow_http=settings.dev)
        self.check_domain = CheckDomainHandler(
            self.holder, operator_networks(settings.trusted_proxies, settings.operator_networks))
        self.portal = RequestIdMiddleware(
            HardenResponses(build_portal(self.instance, lifespan=self._lifespan), allow_http=settings.dev),
            settings.trusted_proxies)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app):
        try:
            self.store.ensure_current()
            self.holder.load()
            passwords.dummy_hash()  # before the first sign-in: an unknown login costs what a known one does
            log.info("worker %d ready: snapshot at change %d, server %s, event loop %s", os.getpid(),
                     self.holder.snapshot.last_change_id, _server_name(),
                     type(asyncio.get_running_loop()).__module__)
        except DatabaseNotReady:
            raise
        except Exception as exc:  # database unreachable: the follower keeps trying; readiness says "starting"
            log.warning("snapshot not loaded at start: %s", exc)
        self.holder.start()
        _warn_about_clock(self.store)
        log.debug("worker %d following the change log every %.2f s", os.getpid(), self.settings.change_poll_interval)
        from ostiary.services.jobs.reverifier import Reverifier

        reverifier = Reverifier(self.store, self.settings)  # its own thread and connections; never on /check
        reverifier.start()
        flushing = metrics.start_worker()  # the /check tallies, every second
        try:
            yield
        finally:
            flushing.cancel()
            metrics.flush()
            reverifier.stop()
            self.holder.stop()
            self.store.dispose()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            if path == CHECK_PATH or path.startswith(CHECK_PATH + "/"):
                return await self.check(scope, receive, send)
            if path == CADDY_CHECK_DOMAIN_PATH:
                return await self.check_domain(scope, receive, send)
        await self.portal(scope, receive, send)


def _warn_about_clock(store) -> None:
    from ostiary.services.base.clock import CLOCK_LEEWAY, database_clock_offset, describe_offset

    try:
        offset = database_clock_offset(store)
    except Exception:  # unreachable: readiness says so, and /readyz measures again later
        return
    if offset is not None and abs(offset) > CLOCK_LEEWAY:
        log.warning("%s, more than the %d s leeway: cookies and sign-in links another instance signs may be "
                    "refused here (and the reverse). Synchronise the clocks (docs/operations.md, \"Clocks\").",
                    describe_offset(offset), CLOCK_LEEWAY)


def create_app(settings: Settings | None = None) -> OstiaryApp:
    return OstiaryApp(settings or load_settings())


def create_app_from_env() -> OstiaryApp:
    """Factory for granian and uvicorn workers: settings (OSTIARY_LOG_LEVEL too) come from the environment."""
    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)  # granian applied it already; uvicorn may not have
    return create_app(settings)
