"""BENCHMARKS.md and the plots, from one run's results."""

from __future__ import annotations

from pathlib import Path

from bench.servers import ROOT

RESULTS = ROOT / "bench" / "results"
TARGETS = {"case1": 0.8, "case2": 0.8, "case3": 0.9}


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
        plot(results, "case1", "check", "bare", "/check vs a bare ASGI 200, one granian worker",
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
    values = {
        "started": results["started"], "elapsed": f"{results['elapsed_s'] / 60:.1f}",
        "nproc": m["nproc"], "cpu": m["cpu"], "memory": m["memory_gb"], "kernel": m["kernel"],
        "python": m["python"], "granian": m["granian"], "nginx": m["nginx"], "wrk": m["wrk"],
        "load": ", ".join(f"{x:.1f}" for x in m["load_average_at_start"]),
        "c1_table": _rows(c1["table"], "check", "bare"),
        "c1_headers_table": _rows(c1["headers_table"], "bare_headers", "bare"),
        "c1_hdr_cpu": f"{at16({'table': c1['headers_table']})['bare_headers_cpu_us']:.0f}", "c1_ratio": f"{at16(c1)['ratio']:.2f}",
        "c1_verdict": _verdict(at16(c1)["ratio"] >= 0.8), "c1_cpu_ratio": f"{at16(c1)['cpu_ratio']:.2f}",
        "c1_cpu_ours": f"{at16(c1)['check_cpu_us']:.0f}", "c1_cpu_floor": f"{at16(c1)['bare_cpu_us']:.0f}",
        "c2_cpu_ratio": f"{at16(c2)['cpu_ratio']:.2f}", "c2_cpu_ours": f"{at16(c2)['nginx_ostiary_cpu_us']:.0f}",
        "c2_cpu_floor": f"{at16(c2)['nginx_floor_cpu_us']:.0f}", "c3_cpu_ratio": f"{at16(c3)['cpu_ratio']:.2f}",
        "c2_table": _rows(c2["table"], "nginx_ostiary", "nginx_floor"), "c2_ratio": f"{at16(c2)['ratio']:.2f}",
        "c2_verdict": _verdict(at16(c2)["ratio"] >= 0.8),
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
