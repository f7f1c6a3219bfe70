"""The bundled MIMIC-IV demo EHR: where its files are, and a cached database built from them.

`default_ehr(...)` gives the EHR tools a database for scenarios of the bundled `mimic-iv-demo`
and `mimic-iv-demo-notes` sets when the user named none. The database is built once into the
cache folder (`$CLINSIM_CACHE`, default `~/.cache/clinsim`) under a file lock, so concurrent
runs build it once and never see a half-written file.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from clinsim.environments.cache import build_once, cache_dir
from clinsim.environments.ehr.mimic_import import build_from_mimic
from clinsim.environments.ehr.schema import SCHEMA_VERSION
from clinsim.scenarios.model import Case, Scenario

DEMO_SET = "mimic-iv-demo"
DEMO_NOTES_SET = "mimic-iv-demo-notes"
"""Cases of the demo's admissions with (synthetic or real) MIMIC-IV-Note discharge summaries."""
DEMO_SOURCE = "MIMIC-IV Clinical Database Demo v2.2 (ODbL)"


def demo_dir() -> Path:
    """Folder of the bundled demo tables (MIMIC-IV `hosp/`, `icu/` layout, plus `meds/`)."""
    return Path(str(resources.files("clinsim.environments.ehr").joinpath("data", DEMO_SET)))


def _fingerprint() -> str:
    """Changes when the bundled files or the schema change, so a stale cache is not reused."""
    digest = hashlib.sha256(f"schema {SCHEMA_VERSION}".encode())
    for path in sorted(demo_dir().rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(demo_dir())}:{path.stat().st_size}".encode())
    return digest.hexdigest()[:10]


def demo_ehr_target() -> Path:
    """Where the cached demo database is, or will be built (the file may not exist yet)."""
    return cache_dir() / "ehr" / f"{DEMO_SET}-{_fingerprint()}.duckdb"


def demo_ehr_path() -> Path:
    """The cached demo database, built on first use."""
    out = demo_ehr_target()
    build_once(out, lambda path: build_from_mimic(demo_dir(), path, source=DEMO_SOURCE))
    return out


def is_demo_scenario(scenario: Scenario) -> bool:
    return _from_demo(scenario.id, scenario.provenance.source)


def _from_demo(scenario_id: str, source: str) -> bool:
    return any(
        scenario_id.startswith(f"{name}/") or source == name for name in (DEMO_SET, DEMO_NOTES_SET)
    )


def default_ehr(scenario_id: str, source: str, case: Case) -> Path | None:
    """The EHR to use for a case when the user gave none: the bundled demo database for
    scenarios of the `mimic-iv-demo` and `mimic-iv-demo-notes` sets that link to an EHR
    patient; otherwise None."""
    if case.ehr is None or not _from_demo(scenario_id, source):
        return None
    return demo_ehr_path()


def default_ehr_for(scenario: Scenario) -> Path | None:
    """`default_ehr` for a whole scenario."""
    return default_ehr(scenario.id, scenario.provenance.source, scenario.case)
