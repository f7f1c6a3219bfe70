"""Hostile SQL against the sealed EHR view: time and peak memory of each statement.

Each statement runs in a fresh Python process (so peaks do not mix) that seals one patient of
the bundled MIMIC-IV demo with the default `QueryLimits` and runs the statement through
`SealedEHR.query`, the agent's path. Printed per statement: wall time of the query, peak RSS of
that process (the clinsim side), peak RSS of the sandbox worker (VmHWM; for a worker that was
killed, the largest reaped child's, which is at least the clinsim side's size at the fork; 0
when the view runs in-process), and how the query ended. The measuring process runs under an
address space cap (`--cap-gb`) and a wall-clock cap so that an unbounded sandbox cannot take the
machine down; hitting either is reported as such.

    .venv/bin/python bench/bench_ehr_hostile.py [--db EHR.duckdb] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

STATEMENTS = [
    "SELECT range(30000000)",
    "SELECT range(100000000)",
    "SELECT repeat('x', 2000000000)",
    "SELECT repeat(repeat('x', 100000), 100000)",
    "SELECT list_value(range(20000000), range(20000000), range(20000000))",
    "SELECT [range(1000000) for x in range(1000)]",
    "SELECT array_agg(x) FROM range(200000000) t(x)",
    "SELECT array_agg(range(1000000)) FROM range(300)",
    "SELECT string_agg(repeat('x', 1000), ',') FROM range(2000000)",
    "SELECT string_agg(a.label || b.label, ',') FROM d_labitems a, d_labitems b, d_labitems c",
    "SELECT count(*) FROM labevents a, labevents b, labevents c",
    "WITH RECURSIVE t(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, s || s FROM t "
    "WHERE n < 40) SELECT max(length(s)) FROM t",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
    "SELECT count(*) FROM generate_series(1, 100000000000)",
    "SELECT list_sort(range(60000000))",
    "SELECT unnest(range(150000000))",
    "SELECT regexp_replace(repeat('a', 200000000), 'a', 'bb', 'g')",
    "SELECT length(regexp_replace(repeat('a', 50000000), 'a', 'bb', 'g'))",
    "SELECT count(*) FROM (SELECT unnest(regexp_extract_all(repeat('a', 30000000), '(a)')))",
    "SELECT length(regexp_replace(repeat('ab', 40000000), '(a|b)*c', 'x'))",
    "SELECT * FROM generate_series(1, 1000000000000)",
]

MEASURE = """
import json, resource, sys, time
from datetime import datetime
from pathlib import Path
from clinsim.tools.ehr.sealed import EHRQueryError, SealedEHR
view = SealedEHR.seal(Path(sys.argv[1]), 10000032, datetime(2180, 8, 5, 23, 44), 25742920)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    result = view.query(sys.argv[2])
    outcome = f"answered: {len(result.rows)} rows" + (" (truncated)" if result.truncated else "")
except EHRQueryError as exc:
    outcome = str(exc)[:90]
elapsed = time.perf_counter() - started
worker_mb = 0.0
pid = getattr(view, "worker_pid", None)  # None: the worker was replaced, or no worker at all
if pid is not None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            worker_mb = int(line.split()[1]) / 1024
view.close()
if getattr(view, "worker_pid", 0) is None and worker_mb == 0.0:  # it died: its peak is here
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({
    "seconds": elapsed,
    "baseline_mb": before / 1024,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "worker_mb": worker_mb,
    "outcome": outcome,
}))
"""


def _measure(db: Path, sql: str, cap_gb: float, wall_s: float) -> dict[str, object]:
    cap = int(cap_gb * 2**30)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    try:
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, str(db), sql],
            capture_output=True,
            text=True,
            timeout=wall_s,
            preexec_fn=limit,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": f"still running after {wall_s:g} s (killed)"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1][:90]
        return {"outcome": f"measuring process failed (exit {done.returncode}): {tail}"}
    result: dict[str, object] = json.loads(lines[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="EHR database (default: build the demo)")
    parser.add_argument("--only", help="run only statements containing this text")
    parser.add_argument("--cap-gb", type=float, default=10.0)
    parser.add_argument("--wall-s", type=float, default=90.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            from clinsim.environments.ehr.demo import demo_dir
            from clinsim.environments.ehr.mimic_import import build_from_mimic

            db = Path(tmp) / "demo.duckdb"
            build_from_mimic(demo_dir(), db)
        print("| statement | query s | clinsim peak MB | worker peak MB | outcome |")
        print("| --- | ---: | ---: | ---: | --- |")
        for sql in STATEMENTS:
            if args.only and args.only not in sql:
                continue
            r = _measure(db, sql, args.cap_gb, args.wall_s)
            figures = [
                f"{r[k]:.1f}" if isinstance(r.get(k), float) else "-"
                for k in ("seconds", "peak_mb", "worker_mb")
            ]
            print(f"| `{sql}` | {' | '.join(figures)} | {r['outcome']} |", flush=True)


if __name__ == "__main__":
    main()
