"""The synthetic EHR generator and the cached bundled demo database."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from clinsim.environments.ehr import demo
from clinsim.environments.ehr.schema import TABLES
from clinsim.environments.ehr.synth import build_synthetic
from clinsim.scenarios.model import AnswerKey, Case, EHRLink, Provenance, Scenario


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t.name: con.execute(f"SELECT * FROM {t.name}").fetchall() for t in TABLES}


def test_same_seed_gives_the_same_database(tmp_path: Path) -> None:
    build_synthetic(tmp_path / "a.duckdb", 300, seed=7)
    build_synthetic(tmp_path / "b.duckdb", 300, seed=7)
    build_synthetic(tmp_path / "c.duckdb", 300, seed=8)
    a, b, c = (_dump(tmp_path / f"{n}.duckdb") for n in "abc")
    assert a == b
    assert a["labevents"] != c["labevents"]


def test_synthetic_schema_matches_the_mimic_import(tmp_path: Path) -> None:
    build_synthetic(tmp_path / "s.duckdb", 50, seed=0)
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE NOT internal AND table_name <> 'ehr_metadata' ORDER BY table_name, column_index"
        ).fetchall()
    expected = sorted((t.name, name, typ) for t in TABLES for name, typ in t.columns)
    assert sorted(columns) == expected


def test_synthetic_volume_and_order(tmp_path: Path) -> None:
    counts = build_synthetic(tmp_path / "s.duckdb", 1000, seed=1)
    assert counts["patients"] == 1000
    assert 150_000 <= counts["labevents"] <= 260_000  # about 200 per patient (10M at 50,000)
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        unsorted = con.execute(
            "SELECT count(*) FROM (SELECT subject_id, charttime, lag(subject_id) OVER () ps, "
            "lag(charttime) OVER () pt FROM labevents) "
            "WHERE ps > subject_id OR (ps = subject_id AND pt > charttime)"
        ).fetchone()[0]
        overlapping = con.execute(
            "SELECT count(*) FROM (SELECT admittime, lag(dischtime) OVER "
            "(PARTITION BY subject_id ORDER BY admittime) AS prev FROM admissions) "
            "WHERE prev > admittime"
        ).fetchone()[0]
    assert unsorted == 0
    assert overlapping == 0


def test_synthetic_rejects_zero_patients(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        build_synthetic(tmp_path / "s.duckdb", 0)


def _scenario(scenario_id: str, ehr: bool = True) -> Scenario:
    link = EHRLink(subject_id=10000032, hadm_id=1, index_time=datetime(2180, 5, 6)) if ehr else None
    return Scenario(
        id=scenario_id,
        case=Case(objective="diagnose", ehr=link),
        answer=AnswerKey(diagnosis="x"),
        provenance=Provenance(source=scenario_id.split("/")[0]),
    )


def test_default_ehr_only_for_linked_demo_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINSIM_CACHE", str(tmp_path))
    built: list[Path] = []
    original = demo.build_from_mimic

    def counting_build(*args: object, **kwargs: object) -> object:
        built.append(Path(str(args[1])))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(demo, "build_from_mimic", counting_build)
    assert demo.default_ehr_for(_scenario("agentclinic-medqa/0001")) is None
    assert demo.default_ehr_for(_scenario("mimic-iv-demo/1", ehr=False)) is None
    paths: list[Path | None] = []
    threads = [
        threading.Thread(
            target=lambda: paths.append(demo.default_ehr_for(_scenario("mimic-iv-demo/1")))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1  # built once, although three callers asked at the same time
    assert len(set(paths)) == 1 and paths[0] is not None
    assert paths[0].parent.parent == tmp_path
    with duckdb.connect(str(paths[0]), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM patients").fetchone() == (100,)
    assert demo.default_ehr_for(_scenario("mimic-iv-demo/2")) == paths[0]
    assert len(built) == 1
