"""A person with a browser, behind a reverse proxy that does forward auth,
simulated over real HTTP against a running Ostiary.

For an app URL the simulated proxy sends Ostiary's /check the subrequest a
proxy sends (X-Forwarded-* and the browser's cookies for that URL); on
Ostiary's own hosts the browser talks to Ostiary directly. Cookies live in
one jar with real browser rules (Domain, Secure, host-only). The real proxies
and Chromium are exercised by the end-to-end tests; this keeps the
integration tests fast and precise."""

from __future__ import annotations

import re
from html import unescape
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

import httpx

from tests.support.server import loopback_client


@dataclass
class Step:
    url: str
    status: int
    headers: httpx.Headers
    text: str = ""


@dataclass
class Visit:
    steps: list[Step] = field(default_factory=list)

    @property
    def final(self) -> Step:
        return self.steps[-1]

    @property
    def reached_app(self) -> bool:
        return self.final.status == 200 and self.final.headers.get("x-ostiary-test-app") == "1"

    def identity(self, key: str) -> str | None:
        raw = self.final.headers.raw
        name = key.lower().encode()
        values = [v for k, v in raw if k.lower() == name]
        return values[0].decode("utf-8") if values else None


class Visitor:
    def __init__(self, port: int, ca_cert, portal_for: dict[str, str], login: str | None = None,
                 password: str | None = None):
        self.port = port
        self.portal_for = portal_for  # app host -> portal host
        self.browser = loopback_client(ca_cert)
        self.proxy = loopback_client(ca_cert)  # no shared cookies: sends exactly what it is given
        self.login = login
        self.password = password
        self.sign_ins = 0

    def close(self) -> None:
        self.browser.close()
        self.proxy.close()

    def cookies_for(self, url: str) -> str:
        req = urllib.request.Request(url)
        self.browser.cookies.jar.add_cookie_header(req)
        return req.get_header("Cookie") or ""

    def check(self, url: str, method: str = "GET", headers: dict | None = None, nginx: bool = False,
              cookie: str | bytes | None = None) -> httpx.Response:
        parts = urlsplit(url)
        portal = self.portal_for[parts.hostname]
        sent = {
            "X-Forwarded-Proto": parts.scheme,
            "X-Forwarded-Host": parts.netloc,
            "X-Forwarded-Uri": (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            "X-Forwarded-Method": method,
            "Accept": "text/html,application/xhtml+xml",
            "Sec-Fetch-Mode": "navigate",
        }
        # A new connection for every check, so successive checks reach different workers.
        sent["Connection"] = "close"
        sent.update(headers or {})
        cookie_header = self.cookies_for(url) if cookie is None else cookie
        if cookie_header:
            sent["Cookie"] = cookie_header
        suffix = "?proxy=nginx" if nginx else ""
        return self.proxy.get(f"https://{portal}:{self.port}/forward-auth/check{suffix}", headers=sent)

    def open(self, url: str, max_steps: int = 12) -> Visit:
        visit = Visit()
        for _ in range(max_steps):
            host = urlsplit(url).hostname
            if host in self.portal_for:
                r = self.check(url)
                headers = httpx.Headers(r.headers)
                if r.status_code == 200:
                    headers["x-ostiary-test-app"] = "1"
                visit.steps.append(Step(url, r.status_code, headers, r.text))
                if r.status_code == 302:
                    url = r.headers["location"]
                    continue
                return visit
            r = self.browser.get(url, headers={"Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
            visit.steps.append(Step(url, r.status_code, r.headers, r.text))
            if r.is_redirect:
                url = urljoin(url, r.headers["location"])
                continue
            if r.status_code == 200 and urlsplit(url).path == "/sign-in" and self.login:
                r = self.submit_sign_in(url, r.text)
                visit.steps.append(Step(url, r.status_code, r.headers, r.text))
                if r.is_redirect:
                    url = urljoin(url, r.headers["location"])
                    continue
            return visit
        raise AssertionError(f"more than {max_steps} redirects: {[s.url for s in visit.steps]}")

    def submit_sign_in(self, url: str, html: str) -> httpx.Response:
        self.sign_ins += 1
        fields = {k: unescape(v) for k, v in re.findall(r'name="(csrf|next)" value="([^"]*)"', html)}
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return self.browser.post(
            f"{origin}/sign-in",
            data={"login": self.login, "password": self.password, **fields},
            headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"},
        )

    def sign_out(self, portal: str, rd: str | None = None) -> httpx.Response:
        """Follows an app's sign-out link to the portal host's page and presses
        its button (a CSRF-protected POST); the POST's answer."""
        url = f"https://{portal}:{self.port}/forward-auth/sign-out" + (f"?rd={quote(rd, safe='')}" if rd else "")
        page = self.browser.get(url)
        assert page.status_code == 200 and "Sign out everywhere" in page.text, (page.status_code, page.text[:300])
        fields = {k: unescape(v) for k, v in re.findall(r'name="(csrf|rd)" value="([^"]*)"', page.text)}
        origin = f"https://{portal}:{self.port}"
        return self.browser.post(f"{origin}/forward-auth/sign-out", data=fields,
                                 headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
