"""Characters no database can store (NUL, lone surrogates: docs/api.md#input-rules)
are refused where they come in, with the same answer on SQLite and
PostgreSQL: here the rules themselves and the CLI's arguments."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ostiary.cli import main
from ostiary.services.base.input_limits import MAX_JSON_DEPTH, json_problem, unstorable_character_problem


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfff", "\udcff"])
def test_nul_and_lone_surrogates_are_unstorable(text):
    assert "cannot be stored" in unstorable_character_problem(text)


@pytest.mark.parametrize("text", ["plain", "Ærø/Ops", "😀", "\ufffd", "tab\there"])
def test_every_real_character_is_storable(text):
    assert unstorable_character_problem(text) is None


def test_json_problems_name_the_field_and_the_depth_is_bounded():
    assert json_problem({"public_paths": ["/ok", "/b\x00d"]})[0] == "public_paths.1"
    assert json_problem({"n\ud800": 1})[0] == "n\\ud800"
    deep = []
    for _ in range(MAX_JSON_DEPTH + 5):
        deep = [deep]
    assert "deeper" in json_problem({"x": deep})[1]


def test_a_cli_argument_that_is_not_utf8_is_refused_before_any_command_runs(tmp_path):
    """Through a real process: argv bytes that are not UTF-8 reach Python as lone surrogates."""
    env = {**os.environ, "OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"}
    (tmp_path / "pw").write_text("correct horse battery\n")
    init = subprocess.run([sys.executable, "-m", "ostiary", "init", "--base-domain", "id.example.test", "--tenant",
                           "acme", "--admin-email", "admin@acme.test", "--admin-password-file", str(tmp_path / "pw")],
                          env=env, capture_output=True)
    assert init.returncode == 0, init.stderr
    for args in ([b"group", b"add", b"ops\xff"], [b"user", b"list", b"--search", b"\xc3"],
                 [b"group", b"delete", b"st\xe4ff"]):
        done = subprocess.run([sys.executable.encode(), b"-m", b"ostiary", *args], env=env, capture_output=True)
        assert done.returncode == 2, (args, done.stderr)
        assert b"not valid UTF-8" in done.stderr and b"U+DC" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_cli_arguments_with_unstorable_characters_are_refused_alike_on_both_databases(db_url, tmp_path):
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["group", "add", "ops\ud800"], env=env)
    assert result.exit_code == 2 and "argument 3" in result.output and "U+D800" in result.output
