"""Start-up cost of the CLI: `clinsim --help` and `clinsim run --limit 1`, and what they import.

    python bench/bench_startup.py [--runs 7]

Prints the median wall time of each command (a fresh process each run; `run --limit 1` plays the
first demo scenario with the offline agents and writes it to a run directory under a temporary
folder), the modules each imports, and which heavy ones are among them (torch, transformers,
langgraph, duckdb, numpy, httpx). Components (doctors, tools, model backends) are loaded when a
run asks for them and CLI commands when they run, never at start-up. For scale it also times
`from langgraph.graph import StateGraph` alone, which every run needs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "transformers", "langgraph", "duckdb", "numpy", "httpx")
PROBE = (
    "import atexit, json, sys\n"
    "def report():\n"
    f"    heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
    "    print(json.dumps([len(sys.modules), heavy]), file=sys.stderr)\n"
    "atexit.register(report)\n"
    "from clinsim.cli.main import main\n"
    "sys.argv = ['clinsim', *sys.argv[1:]]\n"
    "main()\n"
)


def median_time(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def modules(args: list[str]) -> tuple[int, list[str]]:
    probe = subprocess.run([sys.executable, "-c", PROBE, *args], check=True, capture_output=True)
    count, heavy = json.loads(probe.stderr.decode().strip().splitlines()[-1])
    return count, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    clinsim = str(Path(sys.executable).with_name("clinsim"))
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "clinsim --help": ["--help"],
            "clinsim run --limit 1": ["run", "--limit", "1", "--out", f"{tmp}/run"],
        }
        for label, argv in commands.items():
            if "run" in argv:
                seconds = statistics.median(
                    _fresh_run(clinsim, argv, Path(tmp) / "run") for _ in range(args.runs)
                )
            else:
                seconds = median_time([clinsim, *argv], args.runs)
            count, heavy = modules(argv if "run" not in argv else [*argv[:-1], f"{tmp}/probe"])
            print(f"{label}: median {seconds:.2f} s over {args.runs} runs")
            print(f"  modules imported: {count}; heavy among them: {', '.join(heavy) or 'none'}")
    floor = median_time([sys.executable, "-c", "from langgraph.graph import StateGraph"], args.runs)
    print(f"python -c 'from langgraph.graph import StateGraph': median {floor:.2f} s")


def _fresh_run(clinsim: str, argv: list[str], out: Path) -> float:
    """One `clinsim run` into an empty run directory."""
    if out.exists():
        for path in sorted(out.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        out.rmdir()
    started = time.perf_counter()
    subprocess.run([clinsim, *argv], check=True, capture_output=True)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
