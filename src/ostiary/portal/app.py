"""The portal's Starlette application: routes and response hardening."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from ostiary.issuer import logout as issuer_logout
from ostiary.portal import account, branding, by_email, handshake, health, not_found, signin
from ostiary.portal.admin import admin_routes
from ostiary.portal.api import build_api
from ostiary.portal import directory, oidc, passkeys, second_factor, upstream
from ostiary.portal.page_language import LanguageMiddleware
from ostiary.portal.input_guard import InputGuard
from ostiary.portal.unavailable import EXCEPTION_HANDLERS
from ostiary.portal.instance import Instance
from ostiary.wire import AUTHORIZE_PATH, CALLBACK_PATH, PORTAL_SIGN_OUT_PATH, START_PATH

def security_headers(allow_http: bool) -> list[tuple[bytes, bytes]]:
    # form-action also governs every redirect after a form's POST, and signing
    # in redirects on to a portal host of another domain: allow https targets
    # (http too in development mode), never javascript: or data:.
    form_targets = b"'self' https:" + (b" http:" if allow_http else b"")
    return [
        (b"content-security-policy",
         b"default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action " + form_targets
         + b"; frame-ancestors 'none'; base-uri 'none'"),
        *COMMON_HEADERS,
    ]


COMMON_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # Never a Referer off-site (tokens in URLs stay private); "no-referrer" would
    # also make Chromium send "Origin: null" on our own forms and break CSRF checks.
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class HardenResponses:
    """Adds the security headers to every portal response, and no-store to
    every one but static files (pages here are personal or one-time)."""

    def __init__(self, app, allow_http: bool = False):
        self.app = app
        self.headers = security_headers(allow_http)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def send_hardened(message):
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control" or not static]
                names = {h[0] for h in headers}
                headers += [h for h in self.headers if h[0] not in names]
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_hardened)


STATIC = Path(__file__).parent / "static"


async def favicon(request) -> FileResponse:
    """Browsers ask every host for /favicon.ico: Ostiary's own icon, an SVG that follows the light or dark look."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                        headers={"cache-control": "public, max-age=86400"})


def build_portal(inst: Instance, lifespan=None) -> Starlette:
    from ostiary.services.rules import change_notices

    change_notices.install_notifications(inst.settings)  # an admin's second-factor reset is told by email (docs/email.md)
    routes = [
        Route("/", signin.home),
        Route("/sign-in", signin.sign_in_page, methods=["GET"]),
        Route("/sign-in", signin.sign_in_submit, methods=["POST"]),
        Route("/sign-out", signin.sign_out_submit, methods=["POST"]),
        Route("/sign-in/with/{name}", upstream.start, methods=["GET"]),
        Route("/sign-in/with/{name}/callback", upstream.callback, methods=["GET"]),
        Route("/sign-in/directory/{name}", directory.form_page, methods=["GET"]),
        Route("/sign-in/directory/{name}", directory.form_submit, methods=["POST"]),
        Route("/second-factor", second_factor.verify_page, methods=["GET"]),
        Route("/second-factor", second_factor.verify_submit, methods=["POST"]),
        Route("/second-factor/enrol", second_factor.enrol_page, methods=["GET"]),
        Route("/second-factor/enrol", second_factor.enrol_submit, methods=["POST"]),
        Route("/second-factor/passkey", passkeys.second_factor_submit, methods=["POST"]),
        Route("/sign-in/passkey", passkeys.sign_in_submit, methods=["POST"]),
        Route(START_PATH, handshake.start),
        Route(AUTHORIZE_PATH, handshake.authorize),
        Route(CALLBACK_PATH, handshake.callback),
        Route(PORTAL_SIGN_OUT_PATH, handshake.portal_sign_out_page, methods=["GET"]),
        Route(PORTAL_SIGN_OUT_PATH, handshake.portal_sign_out, methods=["POST"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/branding/logo", branding.logo, methods=["GET"]),
        Route("/branding/theme.css", branding.theme, methods=["GET"]),
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/metrics", health.metrics),
        Route("/account", account.account_page, methods=["GET"]),
        Route("/account/sessions/end", account.end_everywhere, methods=["POST"]),
        Route("/account/sessions/{session_id}/end", account.end_one, methods=["POST"]),
        Route("/account/password", account.change_password, methods=["POST"]),
        Route("/account/email", account.change_email, methods=["POST"]),
        Route("/account/language", account.change_language, methods=["POST"]),
        Route("/forgot-password", by_email.forgot_page, methods=["GET"]),
        Route("/forgot-password", by_email.forgot_submit, methods=["POST"]),
        Route("/reset-password", by_email.set_password_page, methods=["GET"]),
        Route("/reset-password", by_email.set_password_submit, methods=["POST"]),
        Route("/invitation", by_email.set_password_page, methods=["GET"]),
        Route("/invitation", by_email.set_password_submit, methods=["POST"]),
        Route("/invitation/passkey", by_email.invitation_passkey_submit, methods=["POST"]),
        Route("/confirm-email", by_email.confirm_email_page, methods=["GET"]),
        Route("/confirm-email", by_email.confirm_email_submit, methods=["POST"]),
        Route("/account/passkeys", passkeys.register_submit, methods=["POST"]),
        Route("/account/passkeys/{passkey_id:int}/remove", passkeys.remove, methods=["POST"]),
        Route("/account/identities/link", upstream.link_start, methods=["POST"]),
        Route("/account/identities/{link_id:int}/remove", upstream.unlink, methods=["POST"]),
        Route("/.well-known/openid-configuration", oidc.configuration, methods=["GET"]),
        Route("/oidc/jwks", oidc.jwks, methods=["GET"]),
        Route("/oidc/authorize", oidc.authorize, methods=["GET"]),
        Route("/oidc/authorize", oidc.authorize_decision, methods=["POST"]),
        Route("/oidc/token", oidc.token, methods=["POST"]),
        Route("/oidc/userinfo", oidc.userinfo, methods=["GET", "POST"]),
        Route("/oidc/revoke", oidc.revoke, methods=["POST"]),
        Route("/oidc/introspect", oidc.introspect, methods=["POST"]),
        Route("/oidc/end-session", oidc.end_session_page, methods=["GET"]),
        Route("/oidc/end-session", oidc.end_session_submit, methods=["POST"]),
        *admin_routes,
        Mount("/api/v1", build_api(inst)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    issuer_logout.install(inst.settings.public_url)
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={**EXCEPTION_HANDLERS, **not_found.HANDLERS},
                    middleware=[Middleware(InputGuard), Middleware(LanguageMiddleware)])
    app.state.instance = inst
    return app
