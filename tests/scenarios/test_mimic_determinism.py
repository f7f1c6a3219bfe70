"""The same EHR always gives the same bytes: scenario builds and the doctor's canned EHR reads.

Unordered aggregates (`string_agg(DISTINCT ...)` without ORDER BY, `arg_max` over tied times)
follow DuckDB's thread scheduling and the tables' physical row order. The builds below run with
eight threads (more than the machine has, so the parallel paths run), and the canned reads run
on sealed views whose rows are shuffled differently each time.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from clinsim.cli import ehr_scenarios
from clinsim.environments.ehr.demo import demo_ehr_path
from clinsim.scenarios import mimic
from clinsim.scenarios.loader import write_scenarios
from clinsim.scenarios.sets import demo_notes_dir, get_set
from clinsim.tools.ehr import canned
from clinsim.tools.ehr.sealed import SealedEHR

BUILDS = 5
# Patients whose records hold the ties: several organisms and comments per specimen, several
# doses of one drug started at the same minute, several outpatient readings on one day.
TIED_SUBJECTS = (10015860, 10014354, 10020306, 10021487)


@pytest.fixture(scope="module")
def ehr_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    os.environ.setdefault("CLINSIM_CACHE", str(tmp_path_factory.mktemp("cache")))
    return demo_ehr_path()


@pytest.fixture
def eight_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = duckdb.connect

    def connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        con = real_connect(*args, **kwargs)
        con.execute("SET threads = 8")
        return con

    monkeypatch.setattr(mimic.duckdb, "connect", connect)


def _build_bytes(
    ehr_db: Path, out: Path, info: mimic.MimicSetInfo, notes: Path | None = None
) -> bytes:
    write_scenarios(mimic.build_mimic_scenarios(ehr_db, info, notes_dir=notes), out)
    return out.read_bytes()


@pytest.mark.slow
@pytest.mark.usefixtures("eight_threads")
def test_the_bundled_mimic_set_builds_byte_identical_five_times(
    ehr_db: Path, tmp_path: Path
) -> None:
    builds = {
        _build_bytes(ehr_db, tmp_path / f"b{n}.jsonl", ehr_scenarios.DEMO_INFO)
        for n in range(BUILDS)
    }
    assert len(builds) == 1
    assert builds == {get_set("mimic-iv-demo").path.read_bytes()}


@pytest.mark.usefixtures("eight_threads")
def test_the_bundled_notes_set_builds_byte_identical_five_times(
    ehr_db: Path, tmp_path: Path
) -> None:
    info = ehr_scenarios.DEMO_NOTES_INFO
    builds = {
        _build_bytes(ehr_db, tmp_path / f"n{n}.jsonl", info, demo_notes_dir())
        for n in range(BUILDS)
    }
    assert len(builds) == 1
    assert builds == {get_set("mimic-iv-demo-notes").path.read_bytes()}


def _shuffled_view(ehr_db: Path, subject: int, seed: float) -> SealedEHR:
    return SealedEHR.seal(ehr_db, subject, datetime(2200, 1, 1), row_order_seed=seed)


def _canned_reads(view: SealedEHR) -> list[str]:
    return [
        canned.patient_summary(view),
        canned.latest_labs(view),
        canned.medications(view),
        canned.prior_diagnoses(view),
        canned.microbiology(view),
        canned.vitals(view),
        canned.lab_history(view, "glucose"),
    ]


def test_a_shuffled_view_holds_the_same_rows_in_another_order(ehr_db: Path) -> None:
    subject, sql = TIED_SUBJECTS[0], "SELECT labevent_id FROM labevents"
    plain = SealedEHR.seal(ehr_db, subject, datetime(2200, 1, 1)).query(sql, 100_000).rows
    shuffled = _shuffled_view(ehr_db, subject, 0.5).query(sql, 100_000).rows
    assert shuffled != plain and sorted(shuffled) == sorted(plain)


@pytest.mark.parametrize("subject", TIED_SUBJECTS)
def test_canned_reads_are_identical_across_fresh_shuffled_views(ehr_db: Path, subject: int) -> None:
    reads = [_canned_reads(_shuffled_view(ehr_db, subject, seed)) for seed in (0.1, 0.5, 0.9)]
    reads.append(_canned_reads(SealedEHR.seal(ehr_db, subject, datetime(2200, 1, 1))))
    assert all(read == reads[0] for read in reads)
