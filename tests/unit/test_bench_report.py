"""bench/report.py renders BENCHMARKS.md from one run's results: every section,
a summary row per target marked holds or missed, "What is left" built from
the targets that do not hold, and a plain note where a case did not run.
The results here are made by hand (wrk runs summarised by bench/cases.py, as
bench/run does), so no benchmark runs."""

from __future__ import annotations

import json

from bench import report
from bench.cases import summarise

CONNECTIONS = (1, 4, 16, 64)


def _run(rps: float, cpu_us: float, p99: float = 2.0) -> dict:
    return {"rps": rps, "p50_ms": p99 / 3, "p90_ms": p99 / 2, "p99_ms": p99, "requests": int(rps * 3), "non2xx": 0,
            "errors": 0, "server_cpu_us": cpu_us}


def _runs(ratios: dict[str, float], rounds: int = 3) -> dict:
    """{target: {connections: [run, ...]}}: the floor at 10,000 req/s, each other target at its ratio."""
    runs = {"floor": {c: [_run(10_000, 40) for _ in range(rounds)] for c in CONNECTIONS}}
    for name, ratio in ratios.items():
        runs[name] = {c: [_run(10_000 * ratio, 40 / ratio) for _ in range(rounds)] for c in CONNECTIONS}
    return runs


def _pair(ours: str, floor: str, ratio: float, parts: dict[str, dict[str, float]] | None = None) -> dict:
    runs = _runs({ours: ratio})
    runs[floor] = runs.pop("floor")
    for side, cpu in (parts or {}).items():  # CPU per request of nginx and Ostiary apart, as case 2 records it
        for side_runs in runs[side].values():
            for run in side_runs:
                run["cpu_parts_us"] = cpu
    return {"runs": runs, "table": summarise(runs, ours, floor)}


def _case2(ratio: float, granian_ratio: float | None = None) -> dict:
    """Case 2 as bench/run records it: the snippet in front of Ostiary on `ostiary serve`'s default server
    against nginx alone and against the bare handler behind nginx, a fetch not signed in, and, when
    `granian_ratio` is given, the snippet in front of Ostiary on granian against nginx alone."""
    c2 = _pair("nginx_ostiary", "nginx_floor", ratio,
               {"nginx_ostiary": {"nginx": 55.0, "ostiary": 31.0}, "nginx_floor": {"nginx": 42.0, "ostiary": 0.0}})
    bare = _pair("nginx_ostiary", "nginx_bare", 0.98,
                 {"nginx_ostiary": {"nginx": 55.0, "ostiary": 31.0}, "nginx_bare": {"nginx": 55.0, "ostiary": 44.0}})
    bare_floor = _pair("nginx_bare", "nginx_floor", ratio / 0.98)
    out = {**c2, "bare_runs": bare["runs"]["nginx_bare"], "bare_table": bare["table"],
           "bare_floor_table": bare_floor["table"]}
    anonymous = _pair("nginx_anonymous", "nginx_floor", ratio * 1.1)
    out |= {"anonymous_runs": anonymous["runs"]["nginx_anonymous"], "anonymous_table": anonymous["table"],
            "anonymous_vs_allowed_table": _pair("nginx_anonymous", "nginx_ostiary", 1.1)["table"]}
    if granian_ratio is not None:
        on_granian = _pair("nginx_granian", "nginx_floor", granian_ratio,
                           {"nginx_granian": {"nginx": 56.0, "ostiary": 46.0},
                            "nginx_floor": {"nginx": 42.0, "ostiary": 0.0}})
        out |= {"granian_runs": on_granian["runs"]["nginx_granian"], "granian_table": on_granian["table"],
                "granian_vs_default_table": _pair("nginx_granian", "nginx_ostiary", granian_ratio / ratio)["table"]}
    return out


def _timing(median: float) -> dict:
    return {"n": 3, "median_ms": median, "p90_ms": median * 1.5, "runs_ms": [median] * 3}


def results(case2_ratio: float = 0.9, granian_ratio: float | None = 0.8, **drop: bool) -> dict:
    """A whole run, every target holding unless told otherwise; JSON round trip as bench/run saves it.
    granian_ratio=None: a run that did not measure Ostiary on granian behind nginx."""
    c1 = _runs({"check": 0.85, "not_signed_in": 0.8, "forbidden": 0.75, "no_app": 0.9, "check_granian": 0.9})
    c1["floor_granian"] = c1.pop("check_granian")  # granian's floor at 0.9 of the fastest; /check on granian 0.8 of it
    c1["check_granian"] = {c: [_run(r["rps"] * 0.8, r["server_cpu_us"] / 0.8) for r in rs]
                           for c, rs in c1["floor_granian"].items()}
    floors_runs = {"bare_asgi_asyncio": {16: [_run(8_000, 50)] * 3}, "bare_asgi_uvloop": {16: [_run(9_000, 45)] * 3},
                   "bare_uvicorn_uvloop": {16: [_run(10_000, 40)] * 3}}
    r = {
        "machine": {"nproc": 2, "cpu": "test CPU", "memory_gb": 4.0, "kernel": "6.1", "python": "3.11.7",
                    "granian": "2.8.9", "nginx": "nginx version: nginx/1.22.1", "wrk": "wrk 4.1.0",
                    "load_average_at_start": [0.5, 0.4, 0.3]},
        "quick": False, "started": "2026-12-01 02:00:00 UTC", "elapsed_s": 700.0, "inprocess_rounds": 15,
        "inprocess": {name: {"us": us} for name, us in {
            "bare": 2.0, "bare_headers": 3.0, "allowed": 9.0, "allowed_decided": 20.0, "not_signed_in": 5.0,
            "not_signed_in_decided": 12.0, "forbidden": 6.0, "forbidden_decided": 14.0, "no_app": 4.0,
            "no_app_decided": 8.0}.items()},
        "floors": {"runs": floors_runs, "fastest": "bare_uvicorn_uvloop", "serve": "bare_uvicorn_uvloop",
                   "fastest_any": "bare_uvicorn_uvloop", "uvicorn": "bare_uvicorn_uvloop",
                   "granian": "bare_asgi_uvloop",
                   "table": {n: summarise(floors_runs, n, "bare_asgi_asyncio")[16] for n in floors_runs}},
        "case1": {"runs": {k: c1[k] for k in ("check", "floor")}, "table": summarise(c1, "check", "floor"),
                  "floor": "bare_uvicorn_uvloop", "serve_floor": "bare_uvicorn_uvloop",
                  "any_floor": "bare_uvicorn_uvloop", "granian_floor": "bare_asgi_uvloop",
                  "serve_table": summarise(c1, "check", "floor"), "any_table": summarise(c1, "check", "floor"),
                  "granian_table": summarise(c1, "check_granian", "floor_granian"),
                  "granian_vs_floor_table": summarise(c1, "check_granian", "floor")},
        "refused": {"table": {n: summarise(c1, n, "floor")[16] for n in report.REFUSED},
                    "by_connections": {n: summarise(c1, n, "floor") for n in report.REFUSED}},
        "case2": _case2(case2_ratio, granian_ratio),
        "case3": {**_pair("large", "small", 0.95), "counts": {"users": 100_000, "apps": 10_000},
                  "snapshot_load": {"wall_s": 3.0, "cpu_s": 2.9, "wall_runs": [3.0], "cpu_runs": [2.9]},
                  "small_change": {"median_ms": 10.0, "max_ms": 12.0, "runs_ms": [10.0, 12.0]},
                  "worker_rss_mb": {"large": [200.0], "small": [60.0]}},
        "case4_sqlite": {"workers": 4, "trials": 30, "stuck_trials": 0, "median_ms": 150, "worst_ms": 210, "p90_ms": 200},
        "case4_postgresql": {"workers": 4, "trials": 30, "stuck_trials": 0, "median_ms": 20, "worst_ms": 40,
                             "p90_ms": 30},
        "case5": {"trials": 30, "median_ms": 9.0, "max_ms": 18.0, "round_trips": 5, "steps": ["app.bench.test/ → 302"]},
        "case6_signin": {m: _timing(t) for m, t in {"password": 410.0, "password + totp": 430.0, "oidc": 25.0,
                                                     "ldap": 15.0}.items()},
        "case6_oidc": {db: {e: _timing(t) for e, t in {"authorization_code": 30.0, "refresh_token": 20.0,
                                                       "userinfo": 5.0}.items()} for db in ("sqlite", "postgresql")},
        "profile": {"samples": 3000, "groups": {
            "native code: no Python frame below the loop's (uvloop's libuv and the sockets; granian's Rust threads)":
                50.0,
            "Ostiary's /check handler and everything it calls": 30.0,
            "event loop: scheduling, tasks, futures": 20.0}, "functions": {"_respond": 8.0, "decide": 2.0},
            "server": "uvicorn"},
    }
    for key, yes in drop.items():
        if yes:
            del r[key]
    return json.loads(json.dumps(r))  # as read back from results.json: connection keys are strings


def _summary_row(text: str, starts: str) -> str:
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    return next(line for line in summary.splitlines() if line.startswith(starts))


def test_every_section_is_written_from_the_run():
    plots = {"ratios": "bench/results/ratios.png", "case1": "bench/results/case1-check-vs-bare.png",
             "case2": "bench/results/case2-nginx.png"}
    text = report.render(results(), plots)
    for heading in ("## Summary", "## 1. `/check` against the fastest bare handler", "### Refused checks",
                    "## 2. Through nginx", "## 3. Scale", "## 4. Propagation of a sign-out", "## 5. The handshake",
                    "## 6. Sign-in and the OpenID provider's endpoints", "## 7. Where the time goes",
                    "### What is left"):
        assert heading in text, heading
    assert "not measured in this run" not in text
    assert "| password + totp | 430.0 | 645.0 | 3 |" in text
    assert "| authorization code | 30.0 / 45.0 | 30.0 / 45.0 |" in text
    assert "30.0 % are in Ostiary's handler" in text and "| `_respond` | 8.0 % |" in text
    assert "| no_app | 64 |" in text  # the refused paths at every concurrency
    for name, path in plots.items():
        assert f"]({path})" in text, name
    assert "{" not in text.split("## Summary", 1)[1].replace("{c", "")  # no placeholder left unfilled


def test_a_missed_target_is_marked_and_explained_under_what_is_left():
    text = report.render(results(case2_ratio=0.72, granian_ratio=None))
    row = _summary_row(text, "| 2 |")
    assert "0.72" in row and row.endswith("**missed** |"), row
    assert _summary_row(text, "| 1 | `/check` (allowed)").endswith("**holds** |")
    left = text.split("### What is left", 1)[1].split("\n### ", 1)[0]
    assert "1 of " in left and "**#2 protected request through nginx" in left
    assert "0.72" in left and "target ≥ 0.85" in left
    assert "of which nginx 55 µs (the subrequest adds 13 µs) and Ostiary 31 µs" in left
    assert "cannot pass 0.76 (42 / 55)" in left
    # The bare handler behind the same snippet, in the same rounds, says how much of the gap is Ostiary's.
    assert "costing 44 µs of its worker's CPU per request against Ostiary's 31 µs; Ostiary reached 0.98 of it" in left
    assert "#1 `/check`" not in left  # a target that holds is not listed


def test_when_every_target_holds_nothing_is_left():
    left = report.render(results()).split("### What is left", 1)[1].split("\n### ", 1)[0]
    assert "Every target holds in this run." in left


def test_a_case_that_did_not_run_is_named_not_guessed():
    text = report.render(results(case2=True, case6_oidc=True, profile=True))
    assert "not measured in this run" in _summary_row(text, "| 2 |")
    assert "**missed**" not in _summary_row(text, "| 2 |") and "**holds**" not in _summary_row(text, "| 2 |")
    assert "Case 7 was not measured in this run." in text
    section2 = text.split("## 2. Through nginx", 1)[1].split("\n## ", 1)[0]
    assert "(not measured in this run)" in section2


def test_the_ratio_plot_draws_every_ratio_with_its_target():
    series = report.ratio_series(results(case2_ratio=0.72))
    assert set(series) == {"/check allowed vs floor", "/check not signed in vs floor", "/check forbidden vs floor",
                           "/check no app vs floor", "nginx + snippet vs nginx alone"}
    cs, ratios, target = series["nginx + snippet vs nginx alone"]
    assert cs == list(CONNECTIONS) and ratios == [0.72] * 4 and target == 0.85
    assert series["/check forbidden vs floor"][2] == 0.7


def test_an_interface_that_drops_header_bytes_is_reported_beside_the_floor_never_as_it():
    r = results()
    floors_runs = {"bare_uvicorn_uvloop": {"16": [_run(10_000, 40)] * 3},
                   "bare_rsgi_rloop": {"16": [_run(12_000, 35)] * 3}}
    r["floors"] = json.loads(json.dumps({
        "runs": floors_runs, "fastest": "bare_uvicorn_uvloop", "serve": "bare_uvicorn_uvloop",
        "fastest_any": "bare_rsgi_rloop", "fidelity": {"asgi": True, "rsgi": False, "uvicorn": True},
        "table": {n: summarise(floors_runs, n, "bare_uvicorn_uvloop")["16"] for n in floors_runs}}))
    any_runs = _runs({"check": 0.7})
    any_runs["floor_any"] = any_runs.pop("floor")
    r["case1"] |= json.loads(json.dumps({"any_floor": "bare_rsgi_rloop",
                                         "any_table": summarise(any_runs, "check", "floor_any")}))
    text = report.render(r)
    assert "| rsgi on rloop (drops header bytes: not available) |" in text
    assert "| uvicorn on uvloop (fastest available: the floor) (`ostiary serve`) |" in text
    assert "Header bytes handed over intact in this run: ASGI yes, RSGI **no**, UVICORN yes." in text
    row = _summary_row(text, "| 1 | `/check` (allowed) on `ostiary serve` (uvicorn) vs the fastest bare handler")
    assert "(uvicorn on uvloop)" in row and row.endswith("**holds** |"), row
    beside = _summary_row(text, "| 1 | the same vs the fastest bare handler of all")
    assert "(rsgi on rloop)" in beside and "| 0.70 |" in beside, beside
    assert "Against the fastest bare handler of all (rsgi on rloop)" in text


def test_a_floor_that_is_the_target_floor_too_is_not_reported_twice():
    text = report.render(results())  # the fastest of all, and `ostiary serve`'s own, are the floor itself
    assert "the same vs the fastest bare handler of all" not in text
    assert "Against the bare handler on the server and loop `ostiary serve` runs" not in text


def test_a_miss_that_two_places_would_round_up_to_the_target_shows_a_third():
    row = _summary_row(report.render(results(case2_ratio=0.848)), "| 2 |")
    assert "| 0.848 (" in row and row.endswith("**missed** |"), row
    row = _summary_row(report.render(results(case2_ratio=0.853)), "| 2 |")
    assert "| 0.85 (" in row and row.endswith("**holds** |"), row


def test_through_nginx_the_target_is_judged_on_the_default_server_and_granian_is_shown_beside():
    text = report.render(results(case2_ratio=0.9, granian_ratio=0.8))
    row = _summary_row(text, "| 2 | protected request")
    assert "Ostiary on `ostiary serve` (uvicorn)" in row and "0.90" in row and row.endswith("**holds** |"), row
    beside = _summary_row(text, "| 2 | the same with Ostiary on granian")
    assert "0.80" in beside and "holds" not in beside and "missed" not in beside, beside
    section2 = text.split("## 2. Through nginx", 1)[1].split("\n## ", 1)[0]
    assert "| connections | nginx_granian req/s | nginx_floor req/s |" in section2
    missed = report.render(results(case2_ratio=0.84, granian_ratio=0.95))
    assert _summary_row(missed, "| 2 | protected request").endswith("**missed** |")
    left = missed.split("### What is left", 1)[1].split("\n### ", 1)[0]
    assert "and Ostiary 31 µs" in left and "On granian Ostiary spent 46 µs per check under nginx, on uvicorn 31 µs" in left
    assert "granian served 1.13× uvicorn's requests" in left


def test_a_refused_request_through_nginx_is_reported_against_nginx_alone_and_the_allowed_one():
    text = report.render(results(case2_ratio=0.8))
    row = _summary_row(text, "| 2 | the same, a fetch not signed in")
    assert "| 0.88 (1.10) |" in row and "holds" not in row and "missed" not in row, row
    section2 = text.split("## 2. Through nginx", 1)[1].split("\n## ", 1)[0]
    assert "| connections | nginx_anonymous req/s | nginx_ostiary req/s |" in section2


def test_target_1_is_read_on_the_default_server_and_granian_is_reported_beside():
    """`ostiary serve` runs uvicorn unless told otherwise: /check on it is judged against the fastest floor of
    either server; /check on granian against granian's floor and against that floor stand beside it, unjudged."""
    text = report.render(results())
    assert _summary_row(text, "| 1 | `/check` (allowed)").endswith("**holds** |")
    on_granian = _summary_row(text, "| 1 | on granian")
    assert "(asgi on uvloop)" in on_granian and "| 0.80 |" in on_granian, on_granian
    across = _summary_row(text, "| 1 | `/check` on granian vs the floor of target 1")
    assert "| 0.72 |" in across and "holds" not in across and "missed" not in across, across
    section1 = text.split("## 1. `/check`", 1)[1].split("\n## ", 1)[0]
    assert "| check_granian req/s | floor_granian req/s |" in section1
    assert "| asgi on uvloop (granian's fastest) |" in section1


def test_the_rounds_each_point_ran_are_stated_as_run():
    assert report.point_rounds({"1": 5, "4": 5, "16": 9, "64": 5}) == (
        "9 rounds of 3 s at 16 connections, where the targets are read, and 5 at the others")
    assert report.point_rounds({"1": 5, "16": 5}) == "5 rounds of 3 s per point"
    assert report.point_rounds(None) == "5 rounds of 3 s per point"  # a run from before the count was kept


def test_interleaved_runs_more_rounds_where_asked(monkeypatch):
    from bench import cases
    from bench.wrk import Load

    # Only the schedule of rounds is under test here: wrk and /proc are stood in for (bench/run drives the real ones).
    calls = []
    monkeypatch.setattr(cases, "run_wrk", lambda url, headers, c, seconds, refused=False: calls.append(c) or Load(
        1000.0, 1.0, 1.0, 1.0, 3000, 0, 0))
    monkeypatch.setattr(cases, "cpu_seconds", lambda pids: 0.0)
    runs = cases.interleaved({"a": ("u", {}, []), "b": ("v", {}, [])}, [1, 16], {1: 2, 16: 4}, 0.1)
    assert {c: len(r) for c, r in runs["a"].items()} == {1: 2, 16: 4}
    assert calls.count(16) == 2 + 2 * 4  # two warm-ups at 16, then a run per target and round
