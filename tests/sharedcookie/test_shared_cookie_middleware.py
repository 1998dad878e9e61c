"""The ASGI middleware under uvicorn and the WSGI middleware under wsgiref, driven over real HTTP."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ostiary.sharedcookie import SharedCookieASGIMiddleware, SharedCookieWSGIMiddleware, safe_next_path

from sharedcookie_servers import UvicornThread, WsgirefThread


def starlette_console() -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"user": request.state.user_id, "scope_user": request.scope["ostiary.user_id"],
                             "session": request.scope["ostiary.identity"].session_id})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"user": getattr(request.state, "user_id", None)})

    return Starlette(routes=[Route("/healthz", health), Route("/{path:path}", whoami)])


def wsgi_console(environ, start_response):
    if environ.get("PATH_INFO") == "/healthz":
        body = json.dumps({"user": environ.get("REMOTE_USER")}).encode()
    else:
        body = json.dumps({"user": environ["REMOTE_USER"], "scope_user": environ["ostiary.user_id"],
                           "session": environ["ostiary.identity"].session_id}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module", params=["asgi-uvicorn", "wsgi-wsgiref"])
def console_url(request, jwt_source):
    if request.param == "asgi-uvicorn":
        app = SharedCookieASGIMiddleware(starlette_console(), jwt_source, public_paths=("/healthz",))
        server = UvicornThread(app)
    else:
        app = SharedCookieWSGIMiddleware(wsgi_console, jwt_source, public_paths=("/healthz",))
        server = WsgirefThread(app)
    with server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def signed_in_cookie(node_minter, chat_secret, librechat_ids):
    return {"refreshToken": node_minter(librechat_ids, chat_secret), "token_provider": "librechat"}


def test_signed_in_user_id_reaches_the_app(console_url, signed_in_cookie, librechat_ids):
    response = httpx.get(f"{console_url}/reports", cookies=signed_in_cookie, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.json() == {"user": librechat_ids["id"], "scope_user": librechat_ids["id"],
                               "session": librechat_ids["sessionId"]}


def test_api_call_without_cookie_gets_401_json_with_the_sign_in_deep_link(console_url):
    response = httpx.get(f"{console_url}/api/items?page=2", headers={"Accept": "text/html"})
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "not_signed_in"
    link = urlsplit(body["sign_in"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == "https://chat.acme.test/login"
    assert parse_qs(link.query)["redirect_to"] == [f"{console_url}/api/items?page=2"]


def test_non_html_request_outside_the_api_prefix_also_gets_401_json(console_url):
    response = httpx.get(f"{console_url}/reports", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.json()["error"] == "not_signed_in"


def test_page_without_cookie_is_redirected_to_unauthorized_with_next(console_url):
    response = httpx.get(f"{console_url}/reports/7?tab=a", headers={"Accept": "text/html,*/*"})
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/unauthorized"
    assert parse_qs(location.query)["next"] == ["/reports/7?tab=a"]


def test_unauthorized_page_links_to_the_chat_sign_in_and_back(console_url):
    response = httpx.get(f"{console_url}/unauthorized", params={"next": "/reports/7?tab=a"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert 'href="https://chat.acme.test/login?redirect_to=' in response.text
    assert 'id="back" href="/reports/7?tab=a"' in response.text


@pytest.mark.parametrize("evil", ["https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:alert(1)",
                                  "/ok\r\nSet-Cookie: x=1"])
def test_unauthorized_page_never_links_back_to_an_unsafe_next(console_url, evil):
    response = httpx.get(f"{console_url}/unauthorized", params={"next": evil})
    assert response.status_code == 200
    assert 'id="back" href="/"' in response.text
    assert "evil.test" not in response.text.split('id="back"')[1].split(">")[0]


def test_expired_cookie_is_refused_like_no_cookie(console_url, node_minter, chat_secret, librechat_ids):
    expired = node_minter(librechat_ids, chat_secret, expires_in=-5)
    response = httpx.get(f"{console_url}/api/me", cookies={"refreshToken": expired})
    assert response.status_code == 401


def test_openid_token_provider_is_refused(console_url, signed_in_cookie):
    response = httpx.get(f"{console_url}/api/me", cookies={**signed_in_cookie, "token_provider": "openid"})
    assert response.status_code == 401


def test_public_path_passes_without_a_user(console_url):
    response = httpx.get(f"{console_url}/healthz")
    assert response.status_code == 200 and response.json() == {"user": None}


def test_client_sent_remote_user_header_never_becomes_the_user(console_url):
    response = httpx.get(f"{console_url}/api/me", headers={"Remote-User": "admin", "X-Remote-User": "admin"})
    assert response.status_code == 401


@pytest.mark.parametrize("value,expected", [
    ("/a/b?c=d", "/a/b?c=d"), ("/", "/"), ("//evil.test", None), ("https://evil.test", None),
    ("/\\evil.test", None), ("evil.test", None), ("", None), (None, None), ("/a\tb", None),
])
def test_next_must_be_a_relative_path(value, expected):
    assert safe_next_path(value) == expected
