"""The slowest test files first, so two workers finish together.

`scripts/test` runs the suite with `--dist loadfile`: each file whole, in
order, on one worker, files handed out in collection order as workers free
up (`--no-loadscope-reorder`; xdist's own order is by number of tests, which
put a file holding one two-minute browser test last). Handing out the
longest files first keeps one worker from running alone at the end.

A file's weight is its seconds in `tests/durations.json` (setup, call and
teardown of every test, from a whole run); a file not listed there weighs
one second per test. Refresh the file after a change that moves the slow
tests (the order only changes the run's length, never its result):

    OSTIARY_TEST_DURATIONS_OUT=tests/durations.json ./scripts/test
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

DURATIONS = Path(__file__).resolve().parent.parent / "durations.json"
UNKNOWN_SECONDS_PER_TEST = 1.0


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def load_durations(path: Path = DURATIONS) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {str(k): float(v) for k, v in data.items()}


def slowest_files_first(items: list, durations: dict[str, float]) -> None:
    """Reorder `items` in place: whole files, heaviest first; the tests of a
    file keep their order (some depend on it), and files of equal weight keep
    theirs."""
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[file_of(item.nodeid)] += 1

    def weight(name: str) -> float:
        return durations.get(name, UNKNOWN_SECONDS_PER_TEST * counts[name])

    first_seen: dict[str, int] = {}
    for item in items:
        first_seen.setdefault(file_of(item.nodeid), len(first_seen))
    items.sort(key=lambda item: (-weight(file_of(item.nodeid)), first_seen[file_of(item.nodeid)]))


class DurationRecorder:
    """Sums every test's setup, call and teardown per file and merges them into
    the durations file: on the controller under xdist (which sees every
    worker's reports), or in a run without workers. Files this run did not
    touch keep their figure; files gone from the tree are dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report) -> None:
        self.seconds[file_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session) -> None:
        if hasattr(session.config, "workerinput") or not self.seconds:
            return
        root = Path(session.config.rootpath)
        merged = {k: v for k, v in load_durations(self.path).items() if (root / k).exists()}
        merged.update((k, round(v, 1)) for k, v in self.seconds.items())
        ordered = dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))
        self.path.write_text(json.dumps(ordered, indent=1) + "\n")
