"""Start-up cost of the CLI: `clinsim --help` and `clinsim run --limit 1`, and what they import.

    python bench/bench_startup.py [--runs 7]

Prints the median wall and CPU time of each command (a fresh process each run; `run --limit 1`
plays the first demo scenario with the offline agents and writes it to a run directory under a
temporary folder), the modules each imports, and which heavy ones are among them (torch,
transformers, langgraph, duckdb, numpy, httpx). Components (doctors, tools, model backends) are
loaded when a run asks for them and CLI commands when they run, never at start-up. For scale it
also times `from langgraph.graph import StateGraph` alone, which every run needs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "transformers", "langgraph", "duckdb", "numpy", "httpx", "aiohttp")
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


def timed(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh process running `command`. On a busy
    machine the CPU time is the steadier figure: it leaves out time spent waiting for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def median_time(command: list[str], runs: int) -> tuple[float, float]:
    times = [timed(command) for _ in range(runs)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def modules(args: list[str]) -> tuple[int, list[str]]:
    probe = subprocess.run(  # from the root folder, so `-c` finds no clinsim tree in the cwd
        [sys.executable, "-c", PROBE, *args], check=True, capture_output=True, cwd="/"
    )
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
                times = [_fresh_run(clinsim, argv, Path(tmp) / "run") for _ in range(args.runs)]
                seconds = statistics.median(t[0] for t in times)
                cpu = statistics.median(t[1] for t in times)
            else:
                seconds, cpu = median_time([clinsim, *argv], args.runs)
            count, heavy = modules(argv if "run" not in argv else [*argv[:-1], f"{tmp}/probe"])
            print(f"{label}: median {seconds:.2f} s wall, {cpu:.2f} s CPU over {args.runs} runs")
            print(f"  modules imported: {count}; heavy among them: {', '.join(heavy) or 'none'}")
    floor, floor_cpu = median_time(
        [sys.executable, "-c", "from langgraph.graph import StateGraph"], args.runs
    )
    print(
        f"python -c 'from langgraph.graph import StateGraph': median {floor:.2f} s wall, "
        f"{floor_cpu:.2f} s CPU"
    )


def _fresh_run(clinsim: str, argv: list[str], out: Path) -> tuple[float, float]:
    """One `clinsim run` into an empty run directory."""
    if out.exists():
        for path in sorted(out.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        out.rmdir()
    return timed([clinsim, *argv])


if __name__ == "__main__":
    main()
