"""Files a run's players need that the driver builds once: carried by Ray's object store.

The bundled MIMIC-IV demo EHR is a database built from the packaged tables into the cache folder
on first use (`clinsim.environments.ehr.demo`). On a cluster the driver builds it (or finds it
built) and puts its bytes in the object store once; a player on a node whose cache folder lacks
it writes it there (atomically, under the lock the build takes) instead of building it again. An EHR
database given with `--ehr`, scenario images and image models are read from their paths: on a
cluster of several machines, give paths every node can read (a shared file system).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from clinsim.environments.cache import build_once, write_whole
from clinsim.environments.ehr.demo import default_ehr_for, demo_ehr_path, demo_ehr_target
from clinsim.scenarios.model import Scenario


@dataclass(frozen=True)
class Shipment:
    """What to put in place on a player's node: the demo EHR's contents (a reference in the
    object store, fetched only by a node whose cache lacks the database)."""

    demo_ehr: Any = None

    def unpack(self, fetch: Callable[[Any], bytes]) -> list[Path]:
        """Write what this node lacks into its own cache folder; returns the files written."""
        if self.demo_ehr is None:
            return []
        target = demo_ehr_target()
        return [target] if _place(target, partial(fetch, self.demo_ehr)) else []


def needs_demo_ehr(scenarios: list[Scenario], tool_options: dict[str, Any]) -> bool:
    """Whether the run's EHR tools will read the bundled demo database."""
    if "ehr_db" in tool_options or any(k.endswith(".ehr_db") for k in tool_options):
        return False
    return any(default_ehr_for(scenario) is not None for scenario in scenarios)


def demo_ehr_bytes() -> bytes:
    """The demo database's contents (built here first if need be)."""
    return demo_ehr_path().read_bytes()


def _place(path: Path, contents: Callable[[], bytes]) -> bool:
    """Write `contents()` to `path` (whole or not at all) unless it is there already."""
    return build_once(path, lambda target: write_whole(target, lambda p: p.write_bytes(contents())))
