"""BENCHMARKS.md and the plots, from one run's results."""

from __future__ import annotations

from pathlib import Path

from bench.servers import ROOT

RESULTS = ROOT / "bench" / "results"
TARGETS = {"case1": 0.8, "case2": 0.85, "case3": 0.9, "refused": 0.7, "inprocess_us": 10.0}


def plot(results: dict, case: str, ours: str, floor: str, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = results[case]["table"]
    cs = sorted(int(c) for c in table)
    row = lambda c: table[c] if c in table else table[str(c)]  # noqa: E731 (JSON keys are strings)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, style in ((ours, "o-"), (floor, "s--")):
        left.plot(cs, [row(c)[f"{name}_rps"] for c in cs], style, label=name)
        right.plot(cs, [row(c)[f"{name}_p99_ms"] for c in cs], style, label=name)
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


def _rows(table: dict, ours: str, floor: str) -> str:
    lines = [f"| connections | {ours} req/s | {floor} req/s | throughput ratio | per round | "
             f"{ours} p50 / p99 ms | {floor} p50 / p99 ms | server CPU µs/req {ours} / {floor} | CPU ratio |",
             "|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for c in sorted(table, key=int):
        r = table[c]
        lines.append(f"| {c} | {r[f'{ours}_rps']:,.0f} | {r[f'{floor}_rps']:,.0f} | **{r['ratio']:.2f}** | "
                     f"{', '.join(f'{x:.2f}' for x in r['ratios'])} | {r[f'{ours}_p50_ms']:.2f} / {r[f'{ours}_p99_ms']:.2f} | "
                     f"{r[f'{floor}_p50_ms']:.2f} / {r[f'{floor}_p99_ms']:.2f} | "
                     f"{r[f'{ours}_cpu_us']:.0f} / {r[f'{floor}_cpu_us']:.0f} | {r['cpu_ratio']:.2f} |")
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "**holds**" if ok else "**missed**"


def write(results: dict, quick: bool) -> None:
    suffix = "-quick" if quick else ""
    sections = []
    if "case1" in results:
        plot(results, "case1", "check", "floor", f"/check vs the fastest bare handler ({results['case1']['floor']}), one granian worker",
             RESULTS / f"case1-check-vs-bare{suffix}.png")
    if "case2" in results:
        plot(results, "case2", "nginx_ostiary", "nginx_floor", "nginx + Ostiary snippet vs nginx answering auth_request",
             RESULTS / f"case2-nginx{suffix}.png")
    if quick:
        return
    text = (ROOT / "bench" / "BENCHMARKS.template.md").read_text()
    m = results["machine"]
    c1, c2, c3 = results.get("case1"), results.get("case2"), results.get("case3")
    p_sq, p_pg, hs = results.get("case4_sqlite"), results.get("case4_postgresql"), results.get("case5")
    at16 = lambda case: case["table"].get("16") or case["table"][16]  # noqa: E731
    values = _case1_values(results)
    values |= {
        "started": results["started"], "elapsed": f"{results['elapsed_s'] / 60:.1f}",
        "nproc": m["nproc"], "cpu": m["cpu"], "memory": m["memory_gb"], "kernel": m["kernel"],
        "python": m["python"], "granian": m["granian"], "nginx": m["nginx"], "wrk": m["wrk"],
        "load": ", ".join(f"{x:.1f}" for x in m["load_average_at_start"]),
        "c1_ratio": f"{at16(c1)['ratio']:.2f}",
        "c1_verdict": _verdict(at16(c1)["ratio"] >= TARGETS["case1"]), "c1_cpu_ratio": f"{at16(c1)['cpu_ratio']:.2f}",
        "c1_cpu_ours": f"{at16(c1)['check_cpu_us']:.0f}", "c1_cpu_floor": f"{at16(c1)['floor_cpu_us']:.0f}",
        "c2_cpu_ratio": f"{at16(c2)['cpu_ratio']:.2f}", "c2_cpu_ours": f"{at16(c2)['nginx_ostiary_cpu_us']:.0f}",
        "c2_cpu_floor": f"{at16(c2)['nginx_floor_cpu_us']:.0f}", "c3_cpu_ratio": f"{at16(c3)['cpu_ratio']:.2f}",
        "c2_table": _rows(c2["table"], "nginx_ostiary", "nginx_floor"), "c2_ratio": f"{at16(c2)['ratio']:.2f}",
        "c2_verdict": _verdict(at16(c2)["ratio"] >= TARGETS["case2"]),
        "c3_table": _rows(c3["table"], "large", "small"), "c3_ratio": f"{at16(c3)['ratio']:.2f}",
        "c3_verdict": _verdict(at16(c3)["ratio"] >= 0.9),
        "counts": ", ".join(f"{v:,} {k}" for k, v in c3["counts"].items()),
        "rss_large": " / ".join(f"{x:.0f}" for x in c3["worker_rss_mb"]["large"]),
        "rss_small": " / ".join(f"{x:.0f}" for x in c3["worker_rss_mb"]["small"]),
        "rss_verdict": _verdict(max(c3["worker_rss_mb"]["large"]) <= 250),
        "load_wall": f"{c3['snapshot_load']['wall_s']:.1f}", "load_cpu": f"{c3['snapshot_load']['cpu_s']:.1f}",
        "load_runs": ", ".join(str(x) for x in c3["snapshot_load"]["wall_runs"]),
        "load_cpu_runs": ", ".join(str(x) for x in c3["snapshot_load"]["cpu_runs"]),
        "load_verdict": _verdict(c3["snapshot_load"]["wall_s"] <= 10),
        "change_median": f"{c3['small_change']['median_ms']:.1f}", "change_max": f"{c3['small_change']['max_ms']:.1f}",
        "change_verdict": _verdict(c3["small_change"]["max_ms"] <= 50),
    }
    for key, p in (("sq", p_sq), ("pg", p_pg)):
        values.update({f"{key}_median": f"{p['median_ms']:.0f}", f"{key}_worst": f"{p['worst_ms']:.0f}",
                       f"{key}_p90": f"{p['p90_ms']:.0f}", f"{key}_workers": p["workers"], f"{key}_trials": p["trials"],
                       f"{key}_verdict": _verdict(p["worst_ms"] <= 1000 and p["median_ms"] <= 250)})
    values.update({"hs_median": f"{hs['median_ms']:.1f}", "hs_max": f"{hs['max_ms']:.1f}",
                   "hs_trips": f"{hs['round_trips']:.0f}", "hs_trials": hs["trials"],
                   "hs_steps": "\n".join(f"{i + 1}. `{s}`" for i, s in enumerate(hs["steps"]))})
    (ROOT / "BENCHMARKS.md").write_text(text.format(**values))


def _at(table: dict, c: int) -> dict:
    return table[str(c)] if str(c) in table else table[c]


def _case1_values(results: dict) -> dict:
    """Case 1's floors, allowed and refused checks, and the in-process Python."""
    c1, floors, refused, ip = results["case1"], results["floors"], results["refused"], results["inprocess"]
    t16 = _at(c1["table"], 16)
    lines = ["| loop and interface | req/s | ratio to asyncio ASGI | per round | server CPU µs/req |",
             "|---|---:|---:|---|---:|"]
    for name, row in sorted(floors["table"].items(), key=lambda kv: -kv[1][f"{kv[0]}_rps"]):
        mark = " (fastest: the floor)" if name == floors["fastest"] else ""
        mark += " (`ostiary serve`)" if name == floors["serve"] else ""
        lines.append(f"| {name.removeprefix('bare_').replace('_', ' on ')}{mark} | {row[f'{name}_rps']:,.0f} | "
                     f"{row['ratio']:.2f} | {', '.join(f'{x:.2f}' for x in row['ratios'])} | "
                     f"{row[f'{name}_cpu_us']:.0f} |")
    rlines = ["| outcome | req/s | floor req/s | throughput ratio | per round | p99 ms (floor) | server CPU µs/req | CPU ratio |",
              "|---|---:|---:|---:|---|---:|---:|---:|"]
    for name, row in refused["table"].items():
        rlines.append(f"| {name} | {row[f'{name}_rps']:,.0f} | {row['floor_rps']:,.0f} | **{row['ratio']:.2f}** | "
                      f"{', '.join(f'{x:.2f}' for x in row['ratios'])} | {row[f'{name}_p99_ms']:.2f} "
                      f"({row['floor_p99_ms']:.2f}) | {row[f'{name}_cpu_us']:.0f} | {row['cpu_ratio']:.2f} |")
    ilines = ["| outcome | remembered µs | decided µs |", "|---|---:|---:|",
              f"| bare handler | {ip['bare']['us']:.2f} | |", f"| bare handler reading every header | {ip['bare_headers']['us']:.2f} | |"]
    for name in ("allowed", "not_signed_in", "forbidden", "no_app"):
        ilines.append(f"| {name} | {ip[name]['us']:.2f} | {ip[name + '_decided']['us']:.2f} |")
    names = ("not_signed_in", "forbidden", "no_app")
    serve_note = ""
    if "serve_table" in c1:
        serve_note = (f"Against the bare handler on the loop and interface `ostiary serve` runs ({c1['serve_floor']}), "
                      f"in the same rounds:\n\n{_rows(c1['serve_table'], 'check', 'floor_serve')}")
    ours_us = lambda name: ip[name]["us"] - ip["bare"]["us"]  # noqa: E731
    return {
        "c1_floor": c1["floor"].removeprefix("bare_").replace("_", " on "),
        "c1_table": _rows(c1["table"], "check", "floor"), "c1_serve_note": serve_note,
        "c1_p99": f"{t16['check_p99_ms']:.2f}", "c1_floor_p99": f"{t16['floor_p99_ms']:.2f}",
        "c1_p99_ratio": f"{t16['check_p99_ms'] / t16['floor_p99_ms']:.2f}",
        "c1_p99_verdict": _verdict(t16["check_p99_ms"] <= 2 * t16["floor_p99_ms"]),
        "c1_other_ratios": ", ".join(f"{c}: {_at(c1['table'], c)['ratio']:.2f}" for c in (1, 4, 64)
                                     if str(c) in c1["table"] or c in c1["table"]),
        "floors_table": "\n".join(lines), "floor_rounds": len(next(iter(floors["runs"].values()))["16"]
                                                               if "16" in next(iter(floors["runs"].values()))
                                                               else next(iter(floors["runs"].values()))[16]),
        "serve_loop": floors["serve"].removeprefix("bare_asgi_"),
        "refused_table": "\n".join(rlines),
        "refused_ratios": " / ".join(f"{refused['table'][n]['ratio']:.2f}" for n in names),
        "refused_cpu_ratios": " / ".join(f"{refused['table'][n]['cpu_ratio']:.2f}" for n in names),
        "refused_verdict": _verdict(all(refused["table"][n]["ratio"] >= TARGETS["refused"] for n in names)),
        "inprocess_table": "\n".join(ilines), "ip_rounds": 15, "ip_bare": f"{ip['bare']['us']:.2f}",
        "ip_allowed": f"{ours_us('allowed'):.1f}", "ip_allowed_decided": f"{ours_us('allowed_decided'):.1f}",
        "ip_verdict": _verdict(ours_us("allowed") <= TARGETS["inprocess_us"]) + (
            "" if ours_us("allowed_decided") <= TARGETS["inprocess_us"] else " (remembered; **missed** when decided)"),
    }
