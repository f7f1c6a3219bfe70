"""The run directory of `clinsim run`: held by one run at a time, made fresh or resumed, and what
could not be stored said plainly at the end."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.text import Text

from clinsim.cli.errors import fail
from clinsim.config import StoredRun
from clinsim.environments.run_store import RunStore, SkippedRecord
from clinsim.environments.store_lock import READ_LOCK_FILE, RunLocked
from clinsim.run_dirs import episodes_to_skip
from clinsim.scenarios.errors import RecordError


@contextlib.contextmanager
def holding(store: RunStore) -> Iterator[None]:
    """Hold the run directory's writer lock for the whole block; a second run into it is refused
    at once. A directory this made and nothing was stored in is removed again."""
    made = not store.run_dir.exists()
    lock = store.lock()
    try:
        lock.acquire()
    except RunLocked as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{store.run_dir}: cannot write to the run directory ({exc.strerror or exc})")
    try:
        yield
    finally:
        lock.release()
        if made and not store.path.exists():
            for name in (lock.path.name, READ_LOCK_FILE):
                with contextlib.suppress(OSError):
                    (store.run_dir / name).unlink()
            with contextlib.suppress(OSError):
                store.run_dir.rmdir()


def skipped_records(errors: list[RecordError]) -> list[SkippedRecord]:
    """The records a run leaves out, as it keeps and prints them (text that is not valid
    Unicode, such as a field named by a lone surrogate, is written as its escape)."""
    return [
        SkippedRecord(
            file=_text(e.file), line=e.line, field=_text(e.field), message=_text(e.message)
        )
        for e in errors
    ]


def _text(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def prepare(store: RunStore, now: StoredRun, resume: bool) -> tuple[bool, set[str]]:
    """(whether the store must be created, the finished episodes to skip). A directory that
    already holds a run is refused unless resuming it with the same settings."""
    if not store.has_run():
        return True, set()
    return False, episodes_to_skip(store, now, resume)


def report_skipped(console: Console, skipped: list[SkippedRecord]) -> None:
    for record in skipped:
        where = f"{record.file}:{record.line}" if record.line is not None else record.file
        line = Text(f"skipped: {where}: {record.field or '<record>'}: {record.message}")
        console.print(line, style="yellow", soft_wrap=True, highlight=False)


def final_problems(
    skipped: list[SkippedRecord], not_stored: list[str], run_dir: Path
) -> str | None:
    """What makes a finished run exit non-zero, in one message; None when nothing does."""
    problems = []
    if not_stored:
        problems.append(
            f"{len(not_stored)} finished episode(s) could not be stored (listed above); "
            f"`clinsim run ... --resume --out {run_dir}` with the same options plays them again"
        )
    if skipped:
        problems.append(
            f"{len(skipped)} scenario record(s) could not be read and were skipped (listed "
            "above, and kept with the run)"
        )
    return "; ".join(problems) or None
