"""The floor for /check: an ASGI handler that answers 200 with no body,
served by granian, or uvicorn, exactly as `ostiary serve` serves Ostiary."""

from __future__ import annotations

import sys

_START = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
_BODY = {"type": "http.response.body", "body": b""}


async def bare(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(_START)
    await send(_BODY)


async def bare_reading_headers(scope, receive, send) -> None:
    """The floor plus what any forward-auth check must do: read every request header."""
    if scope["type"] == "http":
        for _name, _value in scope["headers"]:
            pass
        scope.get("query_string")
    await bare(scope, receive, send)


async def bare_rsgi(scope, protocol) -> None:
    """The same floor through granian's RSGI interface: one call answers."""
    protocol.response_empty(200, [("content-length", "0")])


async def echo_cookie(scope, receive, send) -> None:
    """The probe of an interface, not a floor: answers with the Cookie header
    exactly as the application was handed it (bench/floors.py)."""
    if scope["type"] == "lifespan":
        return await bare(scope, receive, send)
    body = b"; ".join(value for name, value in scope["headers"] if name == b"cookie")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def echo_cookie_rsgi(scope, protocol) -> None:
    """The same probe through RSGI, whose header values are text."""
    body = "; ".join(value for name, value in scope.headers.items() if name == "cookie").encode("utf-8")
    protocol.response_bytes(200, [("content-length", str(len(body)))], body)


def create_echo_cookie():
    return echo_cookie


def create_echo_cookie_rsgi():
    return echo_cookie_rsgi


def create_bare_rsgi():
    return bare_rsgi


def create_bare():
    return bare


def create_bare_reading_headers():
    return bare_reading_headers


def create_ostiary():
    """Not a floor: Ostiary's own application (settings from the environment), for serving it
    the way the interface "uvicorn_asgi" does, which `ostiary serve` does not."""
    from ostiary.app import create_app_from_env

    return create_app_from_env()


def serve(port: int, workers: int, factory: str = "create_bare", loop: str = "asyncio", interface: str = "asgi") -> None:
    if interface in ("uvicorn", "uvicorn_asgi"):
        # ASGI under uvicorn, as `ostiary serve --server uvicorn` runs it; "uvicorn_asgi": with
        # uvicorn's own httptools protocol, every request through the ASGI task path (no check
        # answered while parsed, ostiary/gate/uvicorn_protocol.py).
        import uvicorn

        from ostiary.serving import UVICORN_OPTIONS

        options = {**UVICORN_OPTIONS, "http": "httptools"} if interface == "uvicorn_asgi" else UVICORN_OPTIONS
        uvicorn.run(f"bench.bare_app:{factory}", factory=True, host="127.0.0.1", port=port, workers=workers,
                    loop=loop, log_level="warning", **options)
        return
    # The same Granian call as ostiary.serving.run_server, with the bare handler.
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(f"bench.bare_app:{factory}", address="127.0.0.1", port=port, interface=Interfaces(interface),
            workers=workers, factory=True, loop=Loops(loop), log_access=False, respawn_failed_workers=True).serve()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:6])
