"""A User-Agent header as people say it: "Chrome on Linux", "Safari on iOS".
A few ordered rules over the tokens browsers have sent for a decade; enough
to recognise one's own sessions, not a device database."""

from __future__ import annotations

import re

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = [
    (re.compile(r"\bEdg(e|A|iOS)?/"), "Edge"),
    (re.compile(r"\b(OPR|Opera)/"), "Opera"),
    (re.compile(r"\bSamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"\b(Firefox|FxiOS)/"), "Firefox"),
    (re.compile(r"\bHeadlessChrome/"), "Headless Chrome"),
    (re.compile(r"\bChromium/"), "Chromium"),
    (re.compile(r"\b(Chrome|CriOS)/"), "Chrome"),
    (re.compile(r"\bVersion/[\d.]+.*\bSafari/"), "Safari"),
    (re.compile(r"^curl/"), "curl"),
    (re.compile(r"^Wget/"), "Wget"),
    (re.compile(r"^python-(httpx|requests|urllib)", re.I), "a Python script"),
]
_SYSTEMS = [
    (re.compile(r"\b(iPhone|iPod)\b"), "iOS"),
    (re.compile(r"\biPad\b"), "iPadOS"),
    (re.compile(r"\bAndroid\b"), "Android"),
    (re.compile(r"\bCrOS\b"), "ChromeOS"),
    (re.compile(r"\bWindows\b"), "Windows"),
    (re.compile(r"\b(Macintosh|Mac OS X)\b"), "macOS"),
    (re.compile(r"\b(Linux|X11)\b"), "Linux"),
]


def describe(user_agent: str | None) -> str:
    ua = (user_agent or "").strip()[:1000]
    if not ua:
        return "unknown browser"
    browser = next((name for pattern, name in _BROWSERS if pattern.search(ua)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(ua)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"a browser on {system}"
    return "unknown browser"
