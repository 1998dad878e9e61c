"""A rotation sets how long every older key still verifies, not only the key
it retires: an emergency rotation (`--overlap 0`) ends them all within the
two seconds the new key needs to reach every worker, and a longer overlap
never lengthens a key already on its way out. Without --overlap, the CLI
uses the overlap the servers run with, not its own environment's."""

from __future__ import annotations

import os
import time

import pytest
from click.testing import CliRunner

from ostiary.cli import main
from ostiary.config import Settings
from ostiary.serving import prepare_database
from ostiary.services.rules import keys
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput

HOUR, WEEK = 3600, 7 * 86400


def _windows(store) -> dict[str, float | None]:
    return {row.id: row.retire_at for row in keys.list_keys(store)}


def _rotate_cli(db_url: str, *args: str, **env: str):
    clean = {k: None for k in os.environ if k.startswith("OSTIARY_")}
    return CliRunner().invoke(main, ["keys", "rotate", *args], env={**clean, "OSTIARY_DATABASE_URL": db_url, **env})


def test_an_emergency_rotation_ends_every_older_key_within_the_publishing_moment(store):
    keys.ensure_signing_key(store)
    keys.rotate_keys(store, CLI_ACTOR, HOUR)
    keys.rotate_keys(store, CLI_ACTOR, HOUR)
    older = set(_windows(store))
    start = time.time()
    new = keys.rotate_keys(store, CLI_ACTOR, 0)
    windows = _windows(store)
    assert windows[new] is None
    assert len(older) == 3
    for kid in older:
        assert windows[kid] is not None and windows[kid] <= start + keys.PUBLISH_AHEAD + 1, kid


def test_a_longer_overlap_never_lengthens_an_older_key(store):
    keys.ensure_signing_key(store)
    keys.rotate_keys(store, CLI_ACTOR, 60)
    short = {kid: at for kid, at in _windows(store).items() if at is not None}
    keys.rotate_keys(store, CLI_ACTOR, WEEK)
    windows = _windows(store)
    assert all(windows[kid] == at for kid, at in short.items())
    assert sorted(at for at in windows.values() if at is not None)[-1] > time.time() + WEEK - 60


@pytest.mark.parametrize("overlap", [-1, 366 * 86400, True, "60"])
def test_an_overlap_out_of_range_or_of_the_wrong_type_is_refused(store, overlap):
    keys.ensure_signing_key(store)
    before = _windows(store)
    with pytest.raises(InvalidInput, match="overlap_seconds"):
        keys.rotate_keys(store, CLI_ACTOR, overlap)
    assert _windows(store) == before


def test_keys_rotate_with_overlap_prints_every_keys_window(store, db_url):
    keys.ensure_signing_key(store)
    keys.rotate_keys(store, CLI_ACTOR, WEEK)
    result = _rotate_cli(db_url, "--overlap", "1")
    assert result.exit_code == 0, result.output
    windows = _windows(store)
    new = next(kid for kid, at in windows.items() if at is None)
    lines = result.output.strip().splitlines()
    assert f"every older key verifies for at most 2 s more" in lines[0], lines
    for kid in windows:
        line = next(line for line in lines if line.strip().startswith(kid))
        assert ("signs from" in line) if kid == new else ("verifies until" in line and "UTC" in line), line
    assert all(at is None or at <= time.time() + 3 for at in windows.values())


def test_keys_rotate_without_overlap_uses_the_servers_overlap_not_its_own(store, db_url, tmp_path):
    prepare_database(Settings(database_url=db_url, data_dir=tmp_path, key_overlap_seconds=HOUR), migrate=False)
    assert keys.recorded_overlap(store) == HOUR
    result = _rotate_cli(db_url)  # this shell sets no overlap: its default would be a week
    assert result.exit_code == 0, result.output
    retired = [at for at in _windows(store).values() if at is not None]
    assert retired and max(retired) <= time.time() + HOUR + 5


def test_keys_rotate_refuses_an_overlap_in_its_environment_that_differs_from_the_servers(store, db_url, tmp_path):
    prepare_database(Settings(database_url=db_url, data_dir=tmp_path, key_overlap_seconds=HOUR), migrate=False)
    before = _windows(store)
    result = _rotate_cli(db_url, OSTIARY_KEY_OVERLAP_SECONDS="1")
    assert result.exit_code == 2
    assert "3600" in result.output and "--overlap" in result.output, result.output
    assert _windows(store) == before
    assert _rotate_cli(db_url, "--overlap", "1", OSTIARY_KEY_OVERLAP_SECONDS="1").exit_code == 0


def test_keys_rotate_refuses_a_negative_overlap(store, db_url):
    keys.ensure_signing_key(store)
    result = _rotate_cli(db_url, "--overlap", "-5")
    assert result.exit_code == 2 and "overlap_seconds" in result.output
