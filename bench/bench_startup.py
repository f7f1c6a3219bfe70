"""Start-up cost of the CLI: what `clinsim --help` imports, and how long it takes.

    python bench/bench_startup.py [--runs 7]

Prints the median wall time of `clinsim --help` (a fresh process each run), the modules the CLI
imports, and which heavy ones are among them (torch, transformers, langgraph, duckdb, numpy).
Components (doctors, tools, model backends) are loaded when a run asks for them, never at
start-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("torch", "transformers", "langgraph", "duckdb", "numpy", "httpx")
PROBE = (
    "import json, sys; import clinsim.cli.main; "
    f"print(json.dumps([len(sys.modules), [m for m in {HEAVY!r} if m in sys.modules]]))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    clinsim = str(Path(sys.executable).with_name("clinsim"))
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([clinsim, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    probe = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True)
    modules, heavy = json.loads(probe.stdout)
    print(f"clinsim --help: median {statistics.median(times):.2f} s over {args.runs} runs")
    print(f"modules imported by the CLI: {modules}; heavy among them: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
