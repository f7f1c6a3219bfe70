"""`clinsim export RUN` and `clinsim runs`: a run's tables as files, and the runs at hand."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clinsim.cli.errors import fail
from clinsim.environments.run_store import (
    RUN_STORE_FILE,
    RunStore,
    StoreError,
    resolve_run_dir,
)


def export_command(run: str, out: Path, fmt: Literal["parquet", "jsonl", "csv"]) -> None:
    try:
        store = RunStore(resolve_run_dir(run))
        written = store.export(out, fmt)
    except (StoreError, OSError) as exc:
        fail(str(exc))
    for path in written:
        print(path)


def runs_command(root: Path) -> None:
    """One line per run directory under `root`, oldest first."""
    if not root.is_dir():
        fail(f"{root}: no such folder (runs are stored under runs/ by default; --root DIR)")
    rows = []
    for directory in sorted(p for p in root.iterdir() if (p / RUN_STORE_FILE).is_file()):
        rows.append(_row(directory))
    if not rows:
        print(f"no runs under {root}")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("when", "run", "sets", "doctor", "episodes", "accuracy"):
        right = name in ("episodes", "accuracy")
        table.add_column(name, justify="right" if right else "left", overflow="fold")
    for row in sorted(rows, key=lambda r: (r[0], r[1].plain)):
        table.add_row(*row)
    Console().print(table)


def _row(directory: Path) -> tuple[str, Text, Text, Text, str, str]:
    store = RunStore(directory)
    try:
        info = store.run_info()
        records = store.episodes()
    except StoreError as exc:
        first = str(exc).splitlines()[0]
        return ("?", Text(directory.name), Text(f"unreadable: {first}"), Text(""), "-", "-")
    run = info.config.get("run", {})
    sets = ",".join(run.get("sources", [])) if isinstance(run, dict) else ""
    doctor = str(run.get("doctor", "")) if isinstance(run, dict) else ""
    trials = run.get("trials", 1) if isinstance(run, dict) else 1
    episodes = str(len(records)) + (f" ({trials} trials)" if trials and trials > 1 else "")
    correct = sum(r.correct for r in records)
    accuracy = f"{correct / len(records):.1%}" if records else "-"
    when = f"{info.created:%Y-%m-%d %H:%M}"
    return (when, Text(info.run_id), Text(sets), Text(doctor), episodes, accuracy)
