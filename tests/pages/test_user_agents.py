"""Session lists name the browser and system ("Chrome on Linux"), from the
User-Agent header, instead of showing its first 80 characters."""

from __future__ import annotations

import pytest

from ostiary.portal.user_agents import describe

CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                "Safari/537.36")


@pytest.mark.parametrize("header, said", [
    (CHROME_LINUX, "Chrome on Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 OPR/115.0.0.0", "Opera on Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1", "Safari on iOS"),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 "
     "Mobile/15E148 Safari/604.1", "Chrome on iPadOS"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on macOS"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
     "Safari/605.1.15", "Safari on macOS"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 "
     "Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", "Chrome on ChromeOS"),
    ("curl/8.5.0", "curl"),
    ("python-httpx/0.28.1", "a Python script"),
    ("", "unknown browser"),
    (None, "unknown browser"),
    ("<script>", "unknown browser"),
])
def test_a_user_agent_is_named_as_browser_and_system(header, said):
    assert describe(header) == said


def test_only_the_first_thousand_characters_of_a_huge_header_are_read():
    assert describe("Mozilla/5.0 " + "(" * 100_000 + CHROME_LINUX) == "unknown browser"
    assert describe(CHROME_LINUX + " x" * 100_000) == "Chrome on Linux"
