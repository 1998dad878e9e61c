"""Each request's language, decided once before its page is made
(docs/translations.md, "Which language a page is in"): the signed-in
person's saved choice, else the browser's Accept-Language, kept for the
request in ostiary/portal/i18n.py.

Apart from i18n.py because it reads the request's instance and tenant
(ostiary/portal/instance.py), while ostiary/portal/rendering.py sets up the templates with i18n's
functions."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ostiary.portal import i18n
from ostiary.portal.instance import instance, tenant_for
from ostiary.services.base.availability import DATABASE_UNREACHABLE
from ostiary.services.rules import languages

# Paths whose answers are never pages: no need to look up anyone's language.
_NOT_PAGES = ("/static/", "/api/", "/healthz", "/readyz", "/metrics", "/favicon.ico", "/.well-known/",
              "/oidc/token", "/oidc/jwks", "/oidc/userinfo", "/oidc/revoke", "/oidc/introspect")


class LanguageMiddleware:
    """Decides each request's language before its page is made: the saved
    choice of the person whose session cookie it carries (on a tenant host,
    where that session lives), else Accept-Language."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        language = None
        if not scope["path"].startswith(_NOT_PAGES):
            language = await _saved_language(request)
        token = i18n.use(language or i18n.negotiate(request.headers.get("accept-language")))
        try:
            await self.app(scope, receive, send)
        finally:
            i18n.reset(token)


async def _saved_language(request: Request) -> str | None:
    inst = instance(request)
    cookie = request.cookies.get(inst.session_cookie)
    if not cookie:
        return None
    tenant = tenant_for(request)
    if tenant is None:
        return None
    try:
        saved = await run_in_threadpool(languages.language_for_session, inst.store, cookie, tenant.id)
    except DATABASE_UNREACHABLE:
        # The page itself says the database is unreachable (ostiary.portal.unavailable), in the browser's language.
        return None
    return saved if saved in i18n.CATALOGS else None
