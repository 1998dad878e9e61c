"""At OSTIARY_LOG_LEVEL=debug every worker logs each refused /check (never
an allowed one); at info it logs none of them."""

from __future__ import annotations

import pytest

from tests.operations.conftest import check, start, wait_for


@pytest.fixture(scope="module")
def debug(installation):
    r = start(installation, "debug", OSTIARY_LOG_LEVEL="debug")
    yield r
    r.server.stop()


def test_refused_checks_are_logged_at_debug_and_allowed_ones_never(debug):
    for _ in range(4):
        assert check(debug, "/health").status_code == 200
        assert check(debug, "/private").status_code in (302, 401)  # not signed in
    refused = wait_for(lambda: [line for line in debug.lines() if "check.refused" in line], timeout=5)
    assert len(refused) == 4 and all("outcome=not_signed_in" in line and "uri=/private" in line for line in refused)
    assert not [line for line in debug.lines() if "check.refused" in line and "uri=/health" in line]
