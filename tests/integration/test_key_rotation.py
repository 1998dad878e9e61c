"""Signing keys rotate without signing anyone out; a retired key stops
verifying when its overlap ends."""

from __future__ import annotations

import time

from ostiary.services.rules import keys
from ostiary.services.base.actor import CLI_ACTOR
from tests.integration.conftest import wait_until


def test_rotation_keeps_old_cookies_valid_during_the_overlap(world):
    v = world.signed_in("alice@acme.test")
    url = world.url("grafana.acme-corp.test", "/")
    old_cookie = v.cookies_for(url)
    keys.rotate_keys(world.store, CLI_ACTOR, overlap_seconds=3600)
    time.sleep(keys.PUBLISH_AHEAD + 0.2)  # the new key starts signing once every worker knows it
    fresh = world.signed_in("alice@acme.test")
    new_cookie = fresh.cookies_for(url)
    wait_until(lambda: fresh.check(url, cookie=new_cookie).status_code == 200, timeout=2)
    assert old_cookie.split(".")[1] != new_cookie.split(".")[1]  # signed by another key id
    assert v.check(url, cookie=old_cookie).status_code == 200


def test_a_cookie_signed_with_a_retired_key_is_refused_after_the_overlap(world):
    v = world.signed_in("bob@acme.test", "wiki.acme-corp.test")
    url = world.url("wiki.acme-corp.test", "/")
    assert v.check(url).status_code == 200
    keys.rotate_keys(world.store, CLI_ACTOR, overlap_seconds=0)
    # The old key keeps signing and verifying while the new one is published (2 s), then retires.
    time.sleep(1.0)
    assert v.check(url).status_code == 200
    wait_until(lambda: all(v.check(url).status_code == 302 for _ in range(8)), timeout=3.0)
    # A new handshake signs a new cookie with the current key and works again.
    assert v.open(url).reached_app


def test_an_emergency_rotation_stops_cookies_signed_by_keys_rotated_out_earlier(world):
    """An ordinary rotation leaves the old key an hour; `ostiary keys rotate --overlap 0`, run from
    a shell whose environment knows nothing of the servers, then ends that hour at every worker."""
    import os
    import subprocess
    import sys

    v = world.signed_in("dave@acme.test")
    url = world.url("grafana.acme-corp.test", "/")
    old_cookie = v.cookies_for(url)
    keys.rotate_keys(world.store, CLI_ACTOR, overlap_seconds=3600)
    time.sleep(keys.PUBLISH_AHEAD + 0.2)
    assert all(v.check(url, cookie=old_cookie).status_code == 200 for _ in range(4))  # inside its hour
    env = {k: val for k, val in os.environ.items() if not k.startswith("OSTIARY_")}
    env["OSTIARY_DATABASE_URL"] = world.store.url
    done = subprocess.run([sys.executable, "-m", "ostiary", "keys", "rotate", "--overlap", "0"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert old_cookie.split(".")[1] in done.stdout  # the earlier key is listed with its new window
    # Published ahead (2 s), then every worker refuses the old key within the change feed's second.
    wait_until(lambda: all(v.check(url, cookie=old_cookie).status_code == 302 for _ in range(8)),
               timeout=keys.PUBLISH_AHEAD + 3.0)
    assert world.signed_in("dave@acme.test").open(url).reached_app
