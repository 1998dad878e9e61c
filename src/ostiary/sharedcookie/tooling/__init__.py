"""The shared-cookie operator tooling (docs/shared-cookie.md): the cookie
doctor and its `ostiary cookie-doctor` command, the Caddy and Traefik
snippets with their Set-Cookie rewrite, and the ASGI and WSGI middlewares for
Python consoles. They bring httpx, publicsuffixlist, PyYAML, Starlette and
click; the gate never imports them (it uses ostiary.sharedcookie.verifier).
"""
