"""The order test files are handed to the workers in (tests/support/ordering.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from tests.support.ordering import DurationRecorder, load_durations, slowest_files_first


def items(*nodeids: str) -> list:
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def test_heaviest_files_go_first_and_each_file_keeps_its_own_order():
    collected = items("tests/a.py::one", "tests/a.py::two", "tests/slow.py::only",
                      "tests/b.py::z", "tests/b.py::a", "tests/a.py::three")
    slowest_files_first(collected, {"tests/slow.py": 120.0, "tests/a.py": 3.0, "tests/b.py": 9.0})
    assert [i.nodeid for i in collected] == [
        "tests/slow.py::only", "tests/b.py::z", "tests/b.py::a",
        "tests/a.py::one", "tests/a.py::two", "tests/a.py::three"]


def test_an_unlisted_file_weighs_a_second_per_test_and_ties_keep_collection_order():
    collected = items("tests/new.py::x", "tests/new.py::y", "tests/new.py::z",
                      "tests/old.py::p", "tests/tie.py::q")
    slowest_files_first(collected, {"tests/old.py": 2.0, "tests/tie.py": 2.0})
    assert [i.nodeid for i in collected] == [
        "tests/new.py::x", "tests/new.py::y", "tests/new.py::z", "tests/old.py::p", "tests/tie.py::q"]


def test_the_recorder_merges_a_run_into_the_file(tmp_path):
    (tmp_path / "tests").mkdir()
    for name in ("kept.py", "ran.py"):
        (tmp_path / "tests" / name).write_text("")
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"tests/kept.py": 5.0, "tests/ran.py": 1.0, "tests/deleted.py": 9.0}))
    recorder = DurationRecorder(path)
    for nodeid, seconds in (("tests/ran.py::t", 0.25), ("tests/ran.py::t", 7.5), ("tests/ran.py::u", 0.25)):
        recorder.pytest_runtest_logreport(SimpleNamespace(nodeid=nodeid, duration=seconds))
    session = SimpleNamespace(config=SimpleNamespace(rootpath=tmp_path))
    recorder.pytest_sessionfinish(session)
    assert load_durations(path) == {"tests/ran.py": 8.0, "tests/kept.py": 5.0}
    assert list(json.loads(path.read_text())) == ["tests/ran.py", "tests/kept.py"]


def test_a_worker_writes_nothing(tmp_path):
    path = tmp_path / "durations.json"
    recorder = DurationRecorder(path)
    recorder.pytest_runtest_logreport(SimpleNamespace(nodeid="tests/x.py::t", duration=1.0))
    recorder.pytest_sessionfinish(SimpleNamespace(config=SimpleNamespace(rootpath=tmp_path, workerinput={})))
    assert not path.exists()
