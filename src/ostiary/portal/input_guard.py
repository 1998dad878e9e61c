"""The portal's request guard: before any page, form or API call sees a
request, refuse what no handler should have to parse or store (the rules
are in ostiary.services.base.input_limits, documented in docs/api.md#input-rules):

- a body over the limit: 413, judged on Content-Length before reading, or
  as soon as a body without one grows past it;
- a path, query parameter, form field or JSON string holding a character
  the databases cannot store (NUL, lone surrogates): 422 naming the field;
- JSON nested too deeply to be a request of ours: 422;
- a multipart body on a page (every form is URL-encoded): 415.

The API answers in its JSON error shape; pages answer with an error page."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ostiary.portal.i18n import N_, gettext as _
from ostiary.portal.rendering import error_page
from ostiary.services.base.text_rules import control_character_problem
from ostiary.services.base.input_limits import MAX_BODY_BYTES, json_problem, shown, unstorable_character_problem

API_PREFIX = "/api/v1"
LOGO_UPLOAD_PATH = "/admin/branding/logo"


class Refusal(Exception):
    def __init__(self, status: int, error: str, field: str, message: str):
        self.status, self.error, self.field, self.message = status, error, field, message


class InputGuard:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            _check_path_and_query(scope)
            body = await _read_body(scope, receive)
            _check_body(scope, body)
        except Refusal as refusal:
            return await _refuse(scope, refusal)(scope, receive, send)
        await self.app(scope, _replay(body, receive), send)


def _check_text(field: str, value: str) -> None:
    problem = unstorable_character_problem(value)
    if problem:
        raise Refusal(422, "invalid_input", shown(field), problem)


def _check_path_and_query(scope: Scope) -> None:
    _check_text("path", scope["path"])
    problem = control_character_problem(scope["path"])  # no name Ostiary stores holds one (and no route matches it)
    if problem:
        raise Refusal(422, "invalid_input", "path", problem)
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        _check_text(name, name)
        _check_text(name, value)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _too_large() -> Refusal:
    return Refusal(413, "too_large", "body", f"request bodies are limited to {MAX_BODY_BYTES} bytes")


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > MAX_BODY_BYTES):
        raise _too_large()  # refused before a byte of it is read
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the handler will see it too
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _check_body(scope: Scope, body: bytes) -> None:
    if not body:
        return
    kind = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            _check_text(name, name)
            _check_text(name, value)
    elif kind == "application/json" or kind.endswith("+json"):
        try:
            value = json.loads(body)
        except RecursionError:
            raise Refusal(422, "invalid_input", "body", "JSON is nested too deeply") from None
        except ValueError:
            return  # not JSON: the API says where it stops being JSON
        problem = json_problem(value)
        if problem:
            raise Refusal(422, "invalid_input", *problem)
    elif kind.startswith("multipart/") and not scope["path"].startswith(API_PREFIX) \
            and scope["path"] != LOGO_UPLOAD_PATH:  # the one file a page uploads (services/rules/branding.py)
        raise Refusal(415, "unsupported_media_type", "body", "forms are sent as application/x-www-form-urlencoded")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _refuse(scope: Scope, refusal: Refusal) -> Response:
    text = f"{refusal.field}: {refusal.message}"
    if scope["path"].startswith(API_PREFIX):
        return JSONResponse({"error": refusal.error, "message": text,
                             "problems": [{"field": refusal.field, "message": refusal.message}]},
                            status_code=refusal.status)
    not_accepted = N_("Not accepted")
    too_much = N_("Too much to send")
    not_understood = N_("Form not understood")
    title = {413: too_much, 415: not_understood}.get(refusal.status, not_accepted)
    return error_page(Request(scope), refusal.status if refusal.status != 422 else 400, _(title),
                      _("%(problem)s. Go back, correct it and try again.") % {"problem": text})
