"""Settings that would be ignored are start-up errors instead: an
OSTIARY_CONFIG naming no readable TOML file, and a log level that is not
one. Every problem is still listed at once, with the setting's name."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ostiary.config import ConfigError, load_settings
from tests.support.server import free_port


@pytest.fixture
def environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("OSTIARY_"):
            monkeypatch.delenv(name)
    return monkeypatch


def _problems(**env) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            load_settings()
    return caught.value.problems


def test_a_config_file_that_does_not_exist_is_refused_naming_its_path(environment, tmp_path):
    missing = tmp_path / "etc" / "ostiary.toml"
    problem, = _problems(OSTIARY_CONFIG=str(missing))
    assert problem.startswith("OSTIARY_CONFIG") and str(missing) in problem and "does not exist" in problem


def test_a_relative_config_path_is_shown_absolute(environment, tmp_path):
    environment.chdir(tmp_path)
    problem, = _problems(OSTIARY_CONFIG="conf/ostiary.toml")
    assert str(tmp_path / "conf" / "ostiary.toml") in problem


def test_a_config_path_that_is_a_directory_is_refused(environment, tmp_path):
    problem, = _problems(OSTIARY_CONFIG=str(tmp_path))
    assert "OSTIARY_CONFIG" in problem and "not a file" in problem


def test_a_config_file_that_is_not_toml_is_refused_with_the_line(environment, tmp_path):
    bad = tmp_path / "ostiary.toml"
    bad.write_text('public_port = 8443\nlog_level = "info\n')
    problem, = _problems(OSTIARY_CONFIG=str(bad))
    assert "OSTIARY_CONFIG" in problem and str(bad) in problem and "line 2" in problem


def test_a_bad_config_file_is_listed_with_the_other_problems(environment, tmp_path):
    problems = _problems(OSTIARY_CONFIG=str(tmp_path / "nope.toml"), OSTIARY_PUBLIC_PORT="70000",
                         OSTIARY_LOG_LEVEL="verbose")
    assert [p.split()[0] for p in problems] == ["OSTIARY_CONFIG", "OSTIARY_PUBLIC_PORT", "OSTIARY_LOG_LEVEL"]


@pytest.mark.parametrize("level", ["verbose", "trace", "", "infos", "20"])
def test_a_log_level_that_is_not_one_is_refused(environment, level):
    problem, = _problems(OSTIARY_LOG_LEVEL=level)
    assert problem.startswith("OSTIARY_LOG_LEVEL") and "debug, info, warning, error, critical" in problem


def test_a_log_level_in_the_config_file_is_checked_too(environment, tmp_path):
    toml = tmp_path / "ostiary.toml"
    toml.write_text('log_level = "verbose"\n')
    problem, = _problems(OSTIARY_CONFIG=str(toml))
    assert problem.startswith("OSTIARY_LOG_LEVEL")


@pytest.mark.parametrize("given, level", [("debug", "debug"), ("WARNING", "warning"), ("Error", "error")])
def test_log_levels_are_accepted_in_any_case(environment, given, level):
    environment.setenv("OSTIARY_LOG_LEVEL", given)
    assert load_settings().log_level == level


def test_a_readable_config_file_is_used(environment, tmp_path):
    toml = tmp_path / "ostiary.toml"
    toml.write_text('log_level = "warning"\npublic_port = 8443\n')
    environment.setenv("OSTIARY_CONFIG", str(toml))
    settings = load_settings()
    assert settings.log_level == "warning" and settings.public_port == 8443


@pytest.mark.parametrize("args", [["serve", "--port", "PORT"], ["user", "list"], ["migrate"]])
def test_commands_stop_at_a_missing_config_file_before_touching_a_database(tmp_path, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update(OSTIARY_CONFIG=str(tmp_path / "missing.toml"), OSTIARY_DATA_DIR=str(tmp_path / "data"))
    args = [str(free_port()) if a == "PORT" else a for a in args]
    done = subprocess.run([sys.executable, "-m", "ostiary", *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert "OSTIARY_CONFIG" in done.stderr and str(tmp_path / "missing.toml") in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()
