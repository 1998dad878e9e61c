"""BENCHMARKS.md and its plots, from one run's results (bench/run calls
`write`; `python -m bench.report RESULTS.json [--out FILE]` renders any
saved run again). The summary table and "What is left" are built from the
same list of targets, so a target that does not hold is both marked
**missed** and explained; a case the run did not measure says so."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from bench.servers import ROOT

RESULTS = ROOT / "bench" / "results"
TEMPLATE = ROOT / "bench" / "BENCHMARKS.template.md"
TARGETS = {"case1": 0.8, "case1_p99": 2.0, "case2": 0.85, "case3": 0.9, "refused": 0.7, "inprocess_us": 10.0,
           "rss_mb": 250, "load_s": 10, "change_ms": 50, "propagation_worst_ms": 1000, "propagation_median_ms": 250}
NOT_RUN = "not measured in this run"
REFUSED = ("not_signed_in", "forbidden", "no_app")
CONNECTIONS = (1, 4, 16, 64)


@dataclass(frozen=True)
class Target:
    number: str
    what: str
    target: str
    measured: str
    holds: bool | None  # None: a figure without a target
    left: str = ""  # why it is missed, from the run's own figures

    @property
    def verdict(self) -> str:
        return "" if self.holds is None else ("**holds**" if self.holds else "**missed**")


class _Values(dict):
    """Template values; a placeholder of a case the run did not measure reads as such."""

    def __missing__(self, key: str) -> str:
        return f"({NOT_RUN})"


def _at(table: dict, c: int) -> dict:
    return table[str(c)] if str(c) in table else table[c]


def _has(table: dict, c: int) -> bool:
    return str(c) in table or c in table


def _connections(table: dict) -> list[int]:
    return sorted(int(c) for c in table)


# -- plots ---------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(results: dict, case: str, ours: str, floor: str, title: str, path: Path) -> None:
    """Throughput and p99 latency of two targets against the number of connections."""
    plt = _pyplot()
    table = results[case]["table"]
    cs = _connections(table)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, style in ((ours, "o-"), (floor, "s--")):
        left.plot(cs, [_at(table, c)[f"{name}_rps"] for c in cs], style, label=name)
        right.plot(cs, [_at(table, c)[f"{name}_p99_ms"] for c in cs], style, label=name)
    for ax, label in ((left, "requests/s (median of rounds)"), (right, "p99 latency, ms (median of rounds)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(cs, [str(c) for c in cs])
        ax.set_xlabel("concurrent connections (wrk -c)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    left.set_ylim(bottom=0)
    right.set_ylim(bottom=0)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def ratio_series(results: dict) -> dict[str, tuple[list[int], list[float], float]]:
    """{label: (connections, throughput ratios, target)} for every ratio the run measured."""
    series = {}
    if "case1" in results:
        t = results["case1"]["table"]
        series["/check allowed vs floor"] = (_connections(t), [_at(t, c)["ratio"] for c in _connections(t)],
                                             TARGETS["case1"])
    refused = results.get("refused", {})
    for name in REFUSED:
        t = refused.get("by_connections", {}).get(name) or (
            {16: refused["table"][name]} if name in refused.get("table", {}) else None)
        if t:
            series[f"/check {name.replace('_', ' ')} vs floor"] = (
                _connections(t), [_at(t, c)["ratio"] for c in _connections(t)], TARGETS["refused"])
    if "case2" in results:
        t = results["case2"]["table"]
        series["nginx + snippet vs nginx alone"] = (
            _connections(t), [_at(t, c)["ratio"] for c in _connections(t)], TARGETS["case2"])
    return series


def plot_ratios(results: dict, path: Path) -> bool:
    """Every throughput ratio against the number of connections, with its target; False if none."""
    series = ratio_series(results)
    if not series:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, (cs, ratios, target)) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        ax.plot(cs, ratios, "o-", color=colour, label=f"{label} (target ≥ {target})")
        ax.axhline(target, color=colour, linestyle=":", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(CONNECTIONS), [str(c) for c in CONNECTIONS])
    ax.set_xlabel("concurrent connections (wrk -c)")
    ax.set_ylabel("throughput ratio (median of per-round ratios)")
    highest = max(max(r) for _, r, _ in series.values())
    ax.set_ylim(0, min(2.0, max(1.1, highest * 1.05)))  # a ratio far off 1 is noise or a fault: the table has it
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Ratios to the floor; dotted: each target" + (" (points above 2 are off the chart)"
                                                               if highest > 2.0 else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# -- tables --------------------------------------------------------------------


def _rows(table: dict, ours: str, floor: str) -> str:
    lines = [f"| connections | {ours} req/s | {floor} req/s | throughput ratio | per round | "
             f"{ours} p50 / p99 ms | {floor} p50 / p99 ms | server CPU µs/req {ours} / {floor} | CPU ratio |",
             "|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for c in _connections(table):
        r = _at(table, c)
        lines.append(f"| {c} | {r[f'{ours}_rps']:,.0f} | {r[f'{floor}_rps']:,.0f} | **{r['ratio']:.2f}** | "
                     f"{', '.join(f'{x:.2f}' for x in r['ratios'])} | {r[f'{ours}_p50_ms']:.2f} / {r[f'{ours}_p99_ms']:.2f} | "
                     f"{r[f'{floor}_p50_ms']:.2f} / {r[f'{floor}_p99_ms']:.2f} | "
                     f"{r[f'{ours}_cpu_us']:.0f} / {r[f'{floor}_cpu_us']:.0f} | {r['cpu_ratio']:.2f} |")
    return "\n".join(lines)


def _timings(by_name: dict, label: str) -> str:
    lines = [f"| {label} | median ms | 90th percentile ms | n |", "|---|---:|---:|---:|"]
    lines += [f"| {name.replace('_', ' ')} | {s['median_ms']:.1f} | {s['p90_ms']:.1f} | {s['n']} |"
              for name, s in by_name.items()]
    return "\n".join(lines)


def _oidc_table(by_db: dict) -> str:
    names = list(next(iter(by_db.values())))
    lines = ["| endpoint | " + " | ".join(f"{db} median / p90 ms" for db in by_db) + " |",
             "|---|" + "---:|" * len(by_db)]
    for name in names:
        lines.append(f"| {name.replace('_', ' ')} | " + " | ".join(
            f"{by[name]['median_ms']:.1f} / {by[name]['p90_ms']:.1f}" for by in by_db.values()) + " |")
    return "\n".join(lines)


# -- targets -------------------------------------------------------------------


def _ip_us(ip: dict, name: str) -> float:
    return ip[name]["us"] - ip["bare"]["us"]


def targets(results: dict) -> list[Target]:
    """Every row of the summary, each target with whether it holds in this run."""
    out: list[Target] = []
    c1, c2, c3, ip, refused = (results.get(k) for k in ("case1", "case2", "case3", "inprocess", "refused"))
    prof = results.get("profile", {})
    handler_share = next((v for k, v in prof.get("groups", {}).items() if k.startswith("Ostiary")), None)
    if c1:
        t = _at(c1["table"], 16)
        floor = _floor_label(c1.get("floor", "bare_asgi"))
        left = (f"At 16 connections the worker spent {t['check_cpu_us']:.0f} µs of CPU per `/check` against "
                f"{t['floor_cpu_us']:.0f} µs for the floor (a capacity ratio of {t['cpu_ratio']:.2f})")
        if ip:
            left += (f"; of the difference, Ostiary's own Python is about {_ip_us(ip, 'allowed'):.1f} µs per "
                     f"remembered check (in process, section 1)")
        if handler_share is not None:
            left += f"; py-spy puts {handler_share:.1f} % of the worker's samples in Ostiary's handler (section 7)"
        out.append(Target("1", f"`/check` (allowed) on `ostiary serve` ({_server_label(c1)}) vs the fastest bare "
                          f"handler `ostiary serve` can run on either server ({floor}), 16 connections",
                          f"≥ {TARGETS['case1']}",
                          f"{_verdict_ratio(t['ratio'], TARGETS['case1'])} (server CPU per request: {t['cpu_ratio']:.2f})",
                          t["ratio"] >= TARGETS["case1"], left + "."))
        p99 = t["check_p99_ms"] / t["floor_p99_ms"]
        out.append(Target("1", "its p99 latency vs the floor's p99, 16 connections", "≤ 2×",
                          f"{t['check_p99_ms']:.2f} ms vs {t['floor_p99_ms']:.2f} ms ({p99:.2f}×)",
                          p99 <= TARGETS["case1_p99"],
                          "The p99 of `/check` follows its throughput: with one worker, a slower answer "
                          "queues the connections behind it."))
        others = ", ".join(f"{c}: {_at(c1['table'], c)['ratio']:.2f}" for c in (1, 4, 64) if _has(c1["table"], c))
        out.append(Target("1", "the same ratio at 1, 4 and 64 connections", "—", others or NOT_RUN, None))
        if c1.get("any_floor") not in (None, c1.get("floor")) and _has(c1.get("any_table", {}), 16):
            out.append(Target("1", f"the same vs the fastest bare handler of all "
                               f"({_floor_label(c1['any_floor'])}), an interface that drops header bytes", "—",
                               f"{_at(c1['any_table'], 16)['ratio']:.2f}", None))
        if c1.get("granian_table") and _has(c1["granian_table"], 16):
            gf = _floor_label(c1["granian_floor"])
            out.append(Target("1", f"on granian (`--server granian`): `/check` vs granian's fastest bare handler "
                               f"({gf}), 16 connections", "—", f"{_at(c1['granian_table'], 16)['ratio']:.2f}", None))
            out.append(Target("1", f"`/check` on granian vs the floor of target 1 ({floor}), 16 connections", "—",
                              f"{_at(c1['granian_vs_floor_table'], 16)['ratio']:.2f}", None))
    else:
        out.append(Target("1", "`/check` (allowed) vs the fastest bare handler, 16 connections",
                          f"≥ {TARGETS['case1']}", NOT_RUN, None))
    if c2:
        t = _at(c2["table"], 16)
        left = (f"nginx alone spent {t['nginx_floor_cpu_us']:.0f} µs of CPU per request; with the "
                f"snippet nginx and Ostiary together spent {t['nginx_ostiary_cpu_us']:.0f} µs")
        parts = t.get("nginx_ostiary_cpu_parts_us")
        if parts:
            nginx_alone = t["nginx_floor_cpu_parts_us"]["nginx"]
            left += (f", of which nginx {parts['nginx']:.0f} µs (the subrequest adds {parts['nginx'] - nginx_alone:.0f} "
                     f"µs) and Ostiary {parts['ostiary']:.0f} µs. While nginx's one worker limits throughput, "
                     f"the ratio cannot pass {nginx_alone / parts['nginx']:.2f} ({nginx_alone:.0f} / "
                     f"{parts['nginx']:.0f}), whatever Ostiary does; Ostiary's time runs beside it, on the core wrk "
                     "also needs")
        g = c2.get("granian_table")
        if g and _has(g, 16):
            g, vs = _at(g, 16), _at(c2["granian_vs_default_table"], 16)
            left += (f". On granian Ostiary spent {g['nginx_granian_cpu_parts_us']['ostiary']:.0f} µs per check "
                     f"under nginx, on uvicorn {t['nginx_ostiary_cpu_parts_us']['ostiary']:.0f} µs: granian "
                     f"hands each check from its Rust thread to the Python thread and back, uvicorn reads, decides "
                     f"and answers on one thread; granian served {vs['ratio']:.2f}× uvicorn's requests in the same "
                     "rounds")
        bare = c2.get("bare_table")
        if bare and _has(bare, 16):
            b, bf = _at(bare, 16), _at(c2["bare_floor_table"], 16)
            left += (f". The same snippet in front of a bare ASGI handler on the same server (which answers every "
                     f"check 200 and does nothing else) reached {bf['ratio']:.2f} of nginx alone, costing "
                     f"{b['nginx_bare_cpu_parts_us']['ostiary']:.0f} µs of its worker's CPU per request against "
                     f"Ostiary's {b['nginx_ostiary_cpu_parts_us']['ostiary']:.0f} µs; Ostiary "
                     f"reached {b['ratio']:.2f} of it (section 2)")
        out.append(Target("2", f"protected request through nginx + snippet, Ostiary on `ostiary serve` "
                          f"({_server_label(c1 or {})}), vs nginx answering `auth_request` itself, 16 connections",
                          f"≥ {TARGETS['case2']}",
                          f"{_verdict_ratio(t['ratio'], TARGETS['case2'])} (server CPU per request: {t['cpu_ratio']:.2f})",
                          t["ratio"] >= TARGETS["case2"],
                          left + ". `python -m bench.nginx_variants` measures the snippet's options side by side "
                          "(docs/proxies/nginx.md, \"Performance\")."))
        if c2.get("granian_table") and _has(c2["granian_table"], 16):
            out.append(Target("2", "the same with Ostiary on granian (`--server granian`)", "—",
                              f"{_at(c2['granian_table'], 16)['ratio']:.2f}", None))
        if c2.get("anonymous_table") and _has(c2["anonymous_table"], 16):
            a, vs = _at(c2["anonymous_table"], 16), _at(c2["anonymous_vs_allowed_table"], 16)
            out.append(Target("2", "the same, a fetch not signed in (401 with the sign-in target) vs nginx "
                              "alone (nginx answers it without the app's upstream, so it can pass 1); in brackets, vs the allowed "
                              "request", "—", f"{a['ratio']:.2f} ({vs['ratio']:.2f})",
                              None))
    else:
        out.append(Target("2", "protected request through nginx + snippet vs nginx alone", f"≥ {TARGETS['case2']}",
                          NOT_RUN, None))
    if refused:
        rows = {n: refused["table"][n] for n in REFUSED if n in refused["table"]}
        missed = [n for n, r in rows.items() if r["ratio"] < TARGETS["refused"]]
        out.append(Target("3", "refused paths vs the same floor, 16 connections: not signed in / forbidden / no app",
                          f"≥ {TARGETS['refused']} each",
                          " / ".join(_verdict_ratio(r["ratio"], TARGETS["refused"]) for r in rows.values())
                          + " (server CPU per request: " + " / ".join(f"{r['cpu_ratio']:.2f}" for r in rows.values()) + ")",
                          not missed,
                          "; ".join(f"{n.replace('_', ' ')}: {rows[n][f'{n}_cpu_us']:.0f} µs of CPU per request "
                                    f"against the floor's {rows[n]['floor_cpu_us']:.0f} µs" for n in missed) + "."))
    if ip:
        remembered, decided = _ip_us(ip, "allowed"), _ip_us(ip, "allowed_decided")
        out.append(Target("4", f"Python per allowed check, in process (beyond the bare handler's {ip['bare']['us']:.2f} µs)",
                          f"≤ {TARGETS['inprocess_us']:g} µs", f"{remembered:.1f} µs remembered, {decided:.1f} µs decided",
                          remembered <= TARGETS["inprocess_us"],
                          f"A remembered check costs {remembered:.1f} µs beyond the bare handler; a decided one "
                          f"(a new cookie, URI or snapshot generation) {decided:.1f} µs. `python -m bench.inprocess "
                          "--profile allowed` shows the functions."))
    if c3:
        t = _at(c3["table"], 16)
        rss = c3["worker_rss_mb"]["large"]
        load, change = c3["snapshot_load"], c3["small_change"]
        out += [
            Target("5", "`/check` throughput, large vs small snapshot", f"≥ {TARGETS['case3']}",
                   f"{_verdict_ratio(t['ratio'], TARGETS['case3'])} (server CPU per request: {t['cpu_ratio']:.2f})",
                   t["ratio"] >= TARGETS["case3"],
                   f"The large snapshot's worker spent {t['large_cpu_us']:.0f} µs per check against "
                   f"{t['small_cpu_us']:.0f} µs for the small one."),
            Target("5", "resident memory per worker, large snapshot", f"≤ {TARGETS['rss_mb']} MB",
                   " / ".join(f"{x:.0f}" for x in rss) + " MB", max(rss) <= TARGETS["rss_mb"],
                   "`bench/results/profile-snapshot-load.txt` shows what the snapshot holds."),
            Target("5", "snapshot load at start (wall clock; CPU time in brackets)", f"≤ {TARGETS['load_s']} s",
                   f"{load['wall_s']:.1f} s ({load['cpu_s']:.1f} s CPU)", load["wall_s"] <= TARGETS["load_s"],
                   f"The load needed {load['cpu_s']:.1f} s of CPU; wall clock above it is waiting for a core."),
            Target("5", "one membership change applied by `poll_once` (worst of the trials)",
                   f"≤ {TARGETS['change_ms']} ms", f"median {change['median_ms']:.1f} ms, worst {change['max_ms']:.1f} ms",
                   change["max_ms"] <= TARGETS["change_ms"], f"Per trial (ms): {change.get('runs_ms', '')}."),
        ]
    for key, label in (("case4_sqlite", "SQLite"), ("case4_postgresql", "PostgreSQL")):
        p = results.get(key)
        if p:
            out.append(Target("5", f"sign-out → refusal on every worker, {label}, {p['workers']} workers, {p['trials']} trials",
                              "worst ≤ 1 s, median ≤ 250 ms", f"worst {p['worst_ms']:.0f} ms, median {p['median_ms']:.0f} ms",
                              p["worst_ms"] <= TARGETS["propagation_worst_ms"]
                              and p["median_ms"] <= TARGETS["propagation_median_ms"],
                              f"{p.get('stuck_trials', 0)} trials had a worker still accepting after 5 s; "
                              "see section 4 for what bounds the delay."))
    hs = results.get("case5")
    if hs:
        out.append(Target("—", "handshake for a signed-in user: time in Ostiary from `/start` to the redirect out of "
                          "`/callback`", "—", f"median {hs['median_ms']:.1f} ms (max {hs['max_ms']:.1f} ms), "
                          f"{hs['round_trips']:.0f} browser round trips", None))
    if results.get("case6_signin"):
        out.append(Target("6", "a successful sign-in, by method (median)", "baseline", ", ".join(
            f"{k} {v['median_ms']:.0f} ms" for k, v in results["case6_signin"].items()), None))
    for db, by in results.get("case6_oidc", {}).items():
        out.append(Target("6", f"OpenID provider endpoints, {db} (median)", "baseline", ", ".join(
            f"{k.replace('_', ' ')} {v['median_ms']:.1f} ms" for k, v in by.items()), None))
    return out


def summary_table(rows: list[Target]) -> str:
    lines = ["| # | what | target | measured | |", "|---|---|---|---|---|"]
    lines += [f"| {t.number} | {t.what} | {t.target} | {t.measured} | {t.verdict} |" for t in rows]
    return "\n".join(lines)


def what_is_left(rows: list[Target]) -> str:
    missed = [t for t in rows if t.holds is False]
    if not missed:
        return "Every target holds in this run."
    verb = "does" if len(missed) == 1 else "do"
    lines = [f"{len(missed)} of {sum(t.holds is not None for t in rows)} targets {verb} not hold in this run:", ""]
    for t in missed:
        lines.append(f"- **#{t.number} {t.what}**: {t.measured}, target {t.target}. {t.left}".rstrip())
    not_run = [t for t in rows if t.holds is None and t.measured == NOT_RUN]
    if not_run:
        lines += ["", "Not measured in this run: " + "; ".join(f"#{t.number} {t.what}" for t in not_run) + "."]
    return "\n".join(lines)


def profile_section(results: dict) -> str:
    prof = results.get("profile")
    if not prof:
        return f"Case 7 was {NOT_RUN}."
    if "error" in prof:
        return f"Case 7 did not run: {prof['error']}"
    from bench.profile_check import markdown

    groups = prof["groups"]
    share = lambda prefix: sum(v for k, v in groups.items() if k.startswith(prefix))  # noqa: E731
    handler, native, loop = share("Ostiary"), share("native"), share("asyncio") + share("event loop")
    protocol = share("uvicorn")
    text = (f"Of the {prof.get('server', 'granian')} worker's samples under the case-1 load, {handler:.1f} % are in "
            f"Ostiary's handler and what it calls (under uvicorn that includes writing the answer); {native:.1f} % "
            f"are native code (the sockets and uvloop's libuv; under granian, its Rust threads parsing HTTP), "
            f"{protocol:.1f} % uvicorn's HTTP protocol in Python and {loop:.1f} % the event loop's Python "
            "(scheduling, waking up), work any handler on the same server pays too.")
    ip = results.get("inprocess")
    if ip:
        text += (f" In process, a remembered allowed check costs {_ip_us(ip, 'allowed'):.1f} µs of Python beyond "
                 f"the bare handler's {ip['bare']['us']:.2f} µs, a decided one {_ip_us(ip, 'allowed_decided'):.1f} µs.")
    return text + "\n\n" + markdown(prof)


# -- case values ---------------------------------------------------------------


def _verdict_ratio(ratio: float, target: float) -> str:
    """The ratio to two places, or three where two would round a miss up to the target."""
    text = f"{ratio:.2f}"
    return f"{ratio:.3f}" if ratio < target and float(text) >= target else text


def _server_label(c1: dict) -> str:
    """The server `ostiary serve` ran in this run: uvicorn since 2026-12-02, granian before."""
    return "uvicorn" if c1.get("serve_floor", "").startswith("bare_uvicorn_") else "granian"


def _floor_label(name: str) -> str:
    """"bare_asgi_uvloop" -> "asgi on uvloop"."""
    return name.removeprefix("bare_").replace("_", " on ")


def _case1_values(results: dict) -> dict:
    """Case 1's floors, allowed and refused checks, and the in-process Python."""
    values: dict = {}
    c1, floors, refused, ip = (results.get(k) for k in ("case1", "floors", "refused", "inprocess"))
    if floors:
        lines = ["| loop and interface | req/s | ratio to asyncio ASGI | per round | server CPU µs/req |",
                 "|---|---:|---:|---|---:|"]
        fidelity = floors.get("fidelity", {})
        for name, row in sorted(floors["table"].items(), key=lambda kv: -kv[1][f"{kv[0]}_rps"]):
            mark = " (fastest available: the floor)" if name == floors["fastest"] else ""
            mark += " (uvicorn's fastest)" if name == floors.get("uvicorn") else ""
            mark += " (granian's fastest)" if name == floors.get("granian") else ""
            mark += " (`ostiary serve`)" if name == floors["serve"] else ""
            if fidelity.get(name.split("_")[1]) is False:
                mark += " (drops header bytes: not available)"
            lines.append(f"| {_floor_label(name)}{mark} | {row[f'{name}_rps']:,.0f} | "
                         f"{row['ratio']:.2f} | {', '.join(f'{x:.2f}' for x in row['ratios'])} | "
                         f"{row[f'{name}_cpu_us']:.0f} |")
        first = next(iter(floors["runs"].values()))
        kept = ", ".join(f"{i.upper()} {'yes' if ok else '**no**'}" for i, ok in fidelity.items())
        values["floors_fidelity"] = f"Header bytes handed over intact in this run: {kept}." if kept else ""
        values |= {"floors_table": "\n".join(lines), "floor_rounds": len(_at(first, 16)),
                   "serve_loop": floors["serve"].removeprefix("bare_uvicorn_").removeprefix("bare_asgi_")}
    if c1:
        values |= {"c1_floor": _floor_label(c1.get("floor", "bare_asgi")),
                   "c1_table": _rows(c1["table"], "check", "floor"), "c1_serve_note": "", "c1_any_note": ""}
        if c1.get("any_floor") not in (None, c1.get("floor")) and "any_table" in c1:
            values["c1_any_note"] = (
                f"Against the fastest bare handler of all ({_floor_label(c1['any_floor'])}), whose "
                f"interface `ostiary serve` cannot use (it drops header bytes; see the floor above), in the same "
                f"rounds:\n\n{_rows(c1['any_table'], 'check', 'floor_any')}")
        values["c1_granian_note"] = ""
        if "granian_table" in c1:
            values["c1_granian_note"] = (
                f"`/check` on granian (`ostiary serve --server granian`, one worker, on `--loop auto`) against "
                f"granian's fastest bare handler ({_floor_label(c1['granian_floor'])}), in the same rounds:\n\n"
                f"{_rows(c1['granian_table'], 'check_granian', 'floor_granian')}\n\n"
                f"And `/check` on granian against the floor of target 1 ({_floor_label(c1['floor'])}):\n\n"
                f"{_rows(c1['granian_vs_floor_table'], 'check_granian', 'floor')}")
        if c1.get("serve_floor") not in (None, c1.get("floor")) and "serve_table" in c1:
            values["c1_serve_note"] = (
                f"Against the bare handler on the server and loop `ostiary serve` runs "
                f"({_floor_label(c1['serve_floor'])}), in the same rounds:\n\n"
                f"{_rows(c1['serve_table'], 'check', 'floor_serve')}")
    if refused:
        rlines = ["| outcome | connections | req/s | floor req/s | throughput ratio | per round | p99 ms (floor) | "
                  "server CPU µs/req | CPU ratio |", "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
        for name in REFUSED:
            table = refused.get("by_connections", {}).get(name) or {16: refused["table"][name]}
            for c in _connections(table):
                row = _at(table, c)
                rlines.append(f"| {name} | {c} | {row[f'{name}_rps']:,.0f} | {row['floor_rps']:,.0f} | "
                              f"**{row['ratio']:.2f}** | {', '.join(f'{x:.2f}' for x in row['ratios'])} | "
                              f"{row[f'{name}_p99_ms']:.2f} ({row['floor_p99_ms']:.2f}) | {row[f'{name}_cpu_us']:.0f} | "
                              f"{row['cpu_ratio']:.2f} |")
        values["refused_table"] = "\n".join(rlines)
    if ip:
        ilines = ["| outcome | remembered µs | decided µs |", "|---|---:|---:|",
                  f"| bare handler | {ip['bare']['us']:.2f} | |",
                  f"| bare handler reading every header | {ip['bare_headers']['us']:.2f} | |"]
        for name in ("allowed", *REFUSED):
            ilines.append(f"| {name} | {ip[name]['us']:.2f} | {ip[name + '_decided']['us']:.2f} |")
        values |= {"inprocess_table": "\n".join(ilines), "ip_rounds": results.get("inprocess_rounds", 15)}
    return values


def _other_values(results: dict) -> dict:
    values: dict = {}
    c2, c3, hs = results.get("case2"), results.get("case3"), results.get("case5")
    if c2:
        values["c2_table"] = _rows(c2["table"], "nginx_ostiary", "nginx_floor")
        values["c2_bare_table"] = (_rows(c2["bare_table"], "nginx_ostiary", "nginx_bare") if "bare_table" in c2
                                   else "(not measured in this run)")
        values["c2_granian_table"] = (_rows(c2["granian_table"], "nginx_granian", "nginx_floor")
                                      if "granian_table" in c2 else "(not measured in this run)")
        values["c2_anonymous_table"] = (_rows(c2["anonymous_vs_allowed_table"], "nginx_anonymous",
                                              "nginx_ostiary")
                                        if "anonymous_vs_allowed_table" in c2 else "(not measured in this run)")
    if c3:
        values |= {
            "c3_table": _rows(c3["table"], "large", "small"),
            "counts": ", ".join(f"{v:,} {k}" for k, v in c3["counts"].items()),
            "rss_large": " / ".join(f"{x:.0f}" for x in c3["worker_rss_mb"]["large"]),
            "rss_small": " / ".join(f"{x:.0f}" for x in c3["worker_rss_mb"]["small"]),
            "load_wall": f"{c3['snapshot_load']['wall_s']:.1f}", "load_cpu": f"{c3['snapshot_load']['cpu_s']:.1f}",
            "load_runs": ", ".join(str(x) for x in c3["snapshot_load"]["wall_runs"]),
            "load_cpu_runs": ", ".join(str(x) for x in c3["snapshot_load"]["cpu_runs"]),
            "change_median": f"{c3['small_change']['median_ms']:.1f}", "change_max": f"{c3['small_change']['max_ms']:.1f}",
        }
    for key, name in (("sq", "case4_sqlite"), ("pg", "case4_postgresql")):
        p = results.get(name)
        if p:
            values.update({f"{key}_median": f"{p['median_ms']:.0f}", f"{key}_worst": f"{p['worst_ms']:.0f}",
                           f"{key}_p90": f"{p['p90_ms']:.0f}", f"{key}_workers": p["workers"],
                           f"{key}_trials": p["trials"]})
    if hs:
        values.update({"hs_median": f"{hs['median_ms']:.1f}", "hs_max": f"{hs['max_ms']:.1f}",
                       "hs_trips": f"{hs['round_trips']:.0f}", "hs_trials": hs["trials"],
                       "hs_steps": "\n".join(f"{i + 1}. `{s}`" for i, s in enumerate(hs["steps"]))})
    if results.get("case6_signin"):
        values["signin_table"] = _timings(results["case6_signin"], "method")
    if results.get("case6_oidc"):
        values["oidc_table"] = _oidc_table(results["case6_oidc"])
    return values


# -- the document --------------------------------------------------------------


def point_rounds(rounds: dict[str, int] | None) -> str:
    """How many rounds each point of cases 1 and 2 ran (results.json "rounds"; runs before
    2026-12-01 ran 5 at every point)."""
    counts = sorted({int(c): n for c, n in (rounds or {}).items()}.items())
    if not counts or len({n for _, n in counts}) == 1:
        return f"{counts[0][1] if counts else 5} rounds of 3 s per point"
    most = max(n for _, n in counts)
    at = ", ".join(str(c) for c, n in counts if n == most)
    rest = sorted({n for _, n in counts if n != most})
    return (f"{most} rounds of 3 s at {at} connections, where the targets are read, "
            f"and {', '.join(map(str, rest))} at the others")


def render(results: dict, plots: dict[str, str | None] | None = None) -> str:
    """BENCHMARKS.md's text for one run. `plots` maps each plot's name (ratios,
    case1, case2) to the path the document links, or None if it was not drawn."""
    m = results["machine"]
    values = _Values({
        "started": results["started"], "elapsed": f"{results.get('elapsed_s', 0) / 60:.1f}",
        "nproc": m["nproc"], "cpu": m["cpu"], "memory": m["memory_gb"], "kernel": m["kernel"],
        "python": m["python"], "granian": m["granian"], "nginx": m["nginx"], "wrk": m["wrk"],
        "load": ", ".join(f"{x:.1f}" for x in m["load_average_at_start"]),
        "point_rounds": point_rounds(results.get("rounds")),
        "quick_note": ("\n**This is a `--quick` run: one short round per point. Its figures check the setup; "
                       "they are not the benchmark.**\n" if results.get("quick") else ""),
    })
    values |= _case1_values(results)
    values |= _other_values(results)
    rows = targets(results)
    values |= {"summary_table": summary_table(rows), "what_is_left": what_is_left(rows),
               "profile_section": profile_section(results)}
    titles = {"ratios": "Throughput ratios against connections", "case1": "/check vs the floor",
              "case2": "nginx with Ostiary vs nginx alone"}
    for name, title in titles.items():
        path = (plots or {}).get(name)
        values[f"plot_{name}"] = f"![{title}]({path})" if path else "(plot not drawn)"
    return TEMPLATE.read_text().format_map(values)


def output_path(quick: bool) -> Path:
    return RESULTS / "BENCHMARKS-quick.md" if quick else ROOT / "BENCHMARKS.md"


def write(results: dict, quick: bool, out: Path | None = None) -> Path:
    """The plots (PNG, matplotlib) under bench/results/ and the document, linking them
    by relative paths; quick runs write `*-quick.*` files under bench/results/ and
    leave BENCHMARKS.md alone."""
    plots_dir = RESULTS if out is None else out.parent  # elsewhere, the plots go beside the document
    out = out or output_path(quick)
    suffix = "-quick" if quick else ""
    files = {"ratios": plots_dir / f"ratios{suffix}.png", "case1": plots_dir / f"case1-check-vs-bare{suffix}.png",
             "case2": plots_dir / f"case2-nginx{suffix}.png"}
    drawn: dict[str, Path | None] = {"ratios": files["ratios"] if plot_ratios(results, files["ratios"]) else None}
    if "case1" in results:
        plot(results, "case1", "check", "floor",
             f"/check vs the fastest bare handler ({results['case1'].get('floor', 'bare_asgi')}), one "
             f"{_server_label(results['case1'])} worker", files["case1"])
        drawn["case1"] = files["case1"]
    if "case2" in results:
        plot(results, "case2", "nginx_ostiary", "nginx_floor", "nginx + Ostiary snippet vs nginx answering auth_request",
             files["case2"])
        drawn["case2"] = files["case2"]
    links = {name: _relative(path, out.parent) if path else None for name, path in drawn.items()}
    out.write_text(render(results, links))
    return out


def _relative(path: Path, base: Path) -> str:
    import os

    return Path(os.path.relpath(path, base)).as_posix()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("results", type=Path, help="a results.json that bench/run wrote")
    parser.add_argument("--out", type=Path, default=None, help="where to write, the plots beside it (default: "
                        "BENCHMARKS.md, or bench/results/BENCHMARKS-quick.md for a quick run; plots in bench/results/)")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    print(write(results, bool(results.get("quick")), args.out))


if __name__ == "__main__":
    main()
