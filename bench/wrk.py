"""One wrk run: keep-alive load on loopback with fixed headers, read back
as throughput and latency percentiles (wrk's own HdrHistogram, in ms)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK = "/usr/bin/wrk"

_LUA = """
wrk.method = "GET"
wrk.headers = {%(headers)s}
done = function(summary, latency, requests)
  local errs = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"errors":%%d,' ..
    '"p50":%%.3f,"p90":%%.3f,"p99":%%.3f,"mean":%%.3f}\\n',
    summary.requests, summary.duration, errs.status,
    errs.connect + errs.read + errs.write + errs.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000))
end
"""


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    errors: int


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(url: str, headers: dict[str, str], connections: int, seconds: float, threads: int = 1,
            refused: bool = False) -> Load:
    """Refuses a run where any answer was not 2xx (a benchmark of refusals measures nothing),
    or with `refused`, one where any answer was not a 4xx or 5xx: the refused paths'
    load must be refused every time."""
    table = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_LUA % {"headers": table})
        script = f.name
    try:
        done = subprocess.run(
            [WRK, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s",
             "-s", script, url],
            capture_output=True, text=True, timeout=seconds + 30,
        )
    finally:
        Path(script).unlink(missing_ok=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result for {url}:\n{done.stdout}\n{done.stderr}")
    r = json.loads(line[len("WRKJSON "):])
    if r["requests"] == 0 or (r["non2xx"] != r["requests"] if refused else r["non2xx"]):
        raise RuntimeError(f"{url}: {r['non2xx']} of {r['requests']} answers were not "
                           f"{'refusals' if refused else '2xx'}; the load is misconfigured")
    return Load(r["requests"] / (r["duration_us"] / 1e6), r["p50"], r["p90"], r["p99"], r["requests"], r["non2xx"],
                r["errors"])
