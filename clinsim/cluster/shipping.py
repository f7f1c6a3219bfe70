"""Files a run's players need that the driver builds once: carried by Ray's object store.

The bundled MIMIC-IV demo EHR is a database built from the packaged tables into the cache folder
on first use (`clinsim.environments.ehr.demo`). On a cluster the driver builds it (or finds it
built) and puts its bytes in the object store once; a player on a node whose cache lacks it
writes it there (atomically, under the cache's lock) instead of building it again. An EHR
database given with `--ehr`, scenario images and image models are read from their paths: on a
cluster of several machines, give paths every node can read (a shared file system).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from clinsim.environments.ehr.demo import default_ehr_for, demo_ehr_path
from clinsim.scenarios.model import Scenario


@dataclass(frozen=True)
class Shipment:
    """Files to put in place on a player's node: path -> a reference to its contents in the
    object store, fetched only by a node that lacks the file."""

    files: dict[str, Any] = field(default_factory=dict)

    def unpack(self, fetch: Callable[[Any], bytes]) -> list[Path]:
        """Write each file that is not already there; returns those written."""
        written = []
        for name, ref in self.files.items():
            if _place(Path(name), partial(fetch, ref)):
                written.append(Path(name))
        return written


def needs_demo_ehr(scenarios: list[Scenario], tool_options: dict[str, Any]) -> bool:
    """Whether the run's EHR tools will read the bundled demo database."""
    if "ehr_db" in tool_options or any(k.endswith(".ehr_db") for k in tool_options):
        return False
    return any(default_ehr_for(scenario) is not None for scenario in scenarios)


def demo_ehr_file() -> tuple[str, bytes]:
    """The demo database (built here first if need be): its path and contents."""
    path = demo_ehr_path()
    return str(path), path.read_bytes()


def _place(path: Path, contents: Callable[[], bytes]) -> bool:
    if path.is_file():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.is_file():  # another player on this node wrote it while we waited
                return False
            partial = path.with_name(f".{path.name}.{os.getpid()}.part")
            partial.write_bytes(contents())
            partial.replace(path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return True
