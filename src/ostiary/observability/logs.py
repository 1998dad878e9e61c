"""Structured logs: one event per line, as JSON or as text
(OSTIARY_LOG_FORMAT), each carrying the request id of the request it
happened in (docs/operations.md, "Logs").

Events are logged with `event(name, **fields)`. Field order is fixed
(`client` first after the event name) and values are quoted, so a login
typed by an attacker can never look like another field to a line filter
such as fail2ban's (ostiary/observability/fail2ban/)."""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import secrets
from typing import Any

from ostiary.config import in_networks

EVENTS = logging.getLogger("ostiary.events")
# A CLI command that configured no logging stays quiet (no "last resort" lines on
# its standard error); `ostiary serve` and its workers configure a real handler.
EVENTS.addHandler(logging.NullHandler())
FORMATS = ("text", "json")

# The request being served in this task (None outside a request: start-up, followers).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("ostiary_request_id", default=None)

_ID_OK = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_PLAIN = re.compile(r"[A-Za-z0-9._:@/+=,-]+")


def new_request_id() -> str:
    return secrets.token_hex(8)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event; fields are kept as values (not formatted into the message)."""
    if EVENTS.isEnabledFor(level):
        EVENTS.log(level, name, extra={"ostiary_fields": fields})


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "event" | "message", "request_id", fields...} on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _timestamp(record), "level": record.levelname.lower(), "logger": record.name}
        fields = getattr(record, "ostiary_fields", None)
        if fields is not None:
            out["event"] = record.msg
            out.update({"client": fields["client"]} if "client" in fields else {})
            out["request_id"] = request_id.get()
            out.update((k, v) for k, v in fields.items() if k != "client")
        else:
            out["message"] = record.getMessage()
            out["request_id"] = request_id.get()
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def _text_value(value: Any) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else (json.dumps(value, default=str) if isinstance(value, (dict, list))
                                                  else str(value))
    return text if _PLAIN.fullmatch(text) else json.dumps(text, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`TIME LEVEL LOGGER EVENT client=ADDR request_id=ID key=value ...`; other
    lines keep their message. Values with spaces, quotes or control
    characters are JSON-quoted, so every event stays on one line."""

    def format(self, record: logging.LogRecord) -> str:
        head = f"{_timestamp(record)} {record.levelname} {record.name}"
        fields = getattr(record, "ostiary_fields", None)
        rid = request_id.get()
        if fields is not None:
            parts = [head, str(record.msg)]
            if "client" in fields:
                parts.append(f"client={_text_value(fields['client'])}")
            parts.append(f"request_id={rid or '-'}")
            parts.extend(f"{k}={_text_value(v)}" for k, v in fields.items() if k != "client")
            line = " ".join(parts)
        else:
            message = record.getMessage().replace("\r", "\\r").replace("\n", "\\n")
            line = f"{head} {message}" + (f" request_id={rid}" if rid else "")
        if record.exc_info:
            line += " exception=" + json.dumps(self.formatException(record.exc_info))
        return line


def formatter(fmt: str = "text") -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def dictconfig(level: str, fmt: str) -> dict:
    """The logging configuration every worker applies before loading the app
    (granian's log_dictconfig), and the parent too: one format, one level."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ostiary": {"()": "ostiary.observability.logs.formatter", "fmt": fmt}},
        "handlers": {"ostiary": {"class": "logging.StreamHandler", "formatter": "ostiary",
                                 "stream": "ext://sys.stderr"}},
        "loggers": {
            "ostiary": {"handlers": ["ostiary"], "level": level.upper(), "propagate": False},
            "_granian": {"handlers": ["ostiary"], "level": level.upper(), "propagate": False},
            "granian.access": {"handlers": ["ostiary"], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["ostiary"], "level": "WARNING"},
    }


def configure(level: str, fmt: str) -> None:
    import logging.config

    logging.config.dictConfig(dictconfig(level, fmt))


class RequestIdMiddleware:
    """Every portal request gets an id: the trusted proxy's X-Request-Id when
    one sent a well-formed one, else a new one; it is in every log line of the
    request and in the X-Request-Id response header. An id from anyone else
    is ignored, so a client cannot choose the id its lines are found by."""

    def __init__(self, app, trusted_proxies: tuple):
        self.app = app
        self.networks = tuple(trusted_proxies)  # Settings.trusted_proxies: parsed once, at load

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        if self.networks and in_networks((scope.get("client") or ("",))[0], self.networks):
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    text = value.decode("latin-1")
                    rid = text if _ID_OK.fullmatch(text) else None
                    break
        rid = rid or new_request_id()
        token = request_id.set(rid)
        header = (b"x-request-id", rid.encode("ascii"))

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
