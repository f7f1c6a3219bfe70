"""Where clinsim keeps what it derives from bundled data and can make again (the demo EHR
database, the baseline doctor's index): `$CLINSIM_CACHE`, by default `~/.cache/clinsim`."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    configured = os.environ.get("CLINSIM_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "clinsim"


def write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """`write(temporary)` beside `path`, then rename it into place: readers see the whole file or
    none. The temporary is removed when writing fails; the error is raised."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        write(partial)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def build_once(path: Path, build: Callable[[Path], object]) -> bool:
    """Make `path` with `build(path)` unless it exists, one process at a time (a lock file beside
    it); returns whether this call built it."""
    if path.is_file():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.is_file():  # another process built it while we waited
                return False
            build(path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return True
