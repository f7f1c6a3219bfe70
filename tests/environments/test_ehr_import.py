"""Importing MIMIC-IV into the EHR database: the bundled demo, the shared demo, bad input."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest
from shared_data import shared

from clinsim.environments.ehr.demo import demo_dir
from clinsim.environments.ehr.mimic_import import EHRImportError, build_from_mimic
from clinsim.environments.ehr.schema import TABLES


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ehr") / "demo.duckdb"
    build_from_mimic(demo_dir(), out)
    return out


def test_bundled_demo_builds_with_every_table(demo_db: Path) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        counts = {
            t.name: con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in TABLES
        }
    assert counts["patients"] == 100
    assert counts["admissions"] == 275
    assert counts["labevents"] == 107_727
    assert counts["chartevents"] > 200_000  # from the MEDS parquet: demo lacks icu/chartevents
    assert all(counts[name] > 0 for name in counts)


def test_columns_are_typed(demo_db: Path) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        types = dict(
            con.execute(
                "SELECT table_name || '.' || column_name, data_type FROM duckdb_columns() WHERE NOT internal"
            ).fetchall()
        )
    assert types["admissions.admittime"] == "TIMESTAMP"
    assert types["labevents.valuenum"] == "DOUBLE"
    assert types["patients.dod"] == "DATE"
    assert types["labevents.subject_id"] == "BIGINT"


def test_event_tables_are_sorted_by_subject_and_time(demo_db: Path) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        for table, time in (("labevents", "charttime"), ("chartevents", "charttime")):
            unsorted = con.execute(
                f"SELECT count(*) FROM (SELECT subject_id, {time}, "
                f"lag(subject_id) OVER () AS ps, lag({time}) OVER () AS pt FROM {table}) "
                f"WHERE ps > subject_id OR (ps = subject_id AND pt > {time})"
            ).fetchone()[0]
            assert unsorted == 0, table


def test_chart_events_get_their_icu_stay(demo_db: Path) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        linked = con.execute("SELECT count(stay_id) FROM chartevents").fetchone()[0]
    assert linked > 0


def test_shared_demo_builds_the_same_core_tables(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared.duckdb"
    report = build_from_mimic(shared("mimic-iv-demo"), out)
    assert "chartevents taken from MEDS" in " ".join(report.notes)
    with (
        duckdb.connect(str(out), read_only=True) as original,
        duckdb.connect(str(demo_db), read_only=True) as bundled,
    ):
        for table in ("patients", "admissions", "labevents", "chartevents", "diagnoses_icd"):
            query = f"SELECT count(*) FROM {table}"
            assert original.execute(query).fetchone() == bundled.execute(query).fetchone(), table


def _minimal(tmp_path: Path) -> Path:
    root = tmp_path / "mimic"
    (root / "hosp").mkdir(parents=True)
    for name in ("patients", "admissions"):
        shutil.copy(demo_dir() / "hosp" / f"{name}.csv.gz", root / "hosp" / f"{name}.csv.gz")
    return root


def test_missing_optional_tables_are_reported_not_fatal(tmp_path: Path) -> None:
    report = build_from_mimic(_minimal(tmp_path), tmp_path / "out.duckdb")
    assert report.rows["patients"] == 100
    assert "hosp/labevents" in report.missing
    assert "icu/chartevents" in report.missing
    assert "missing optional tables" in report.summary()


def test_missing_required_table_is_an_error(tmp_path: Path) -> None:
    root = _minimal(tmp_path)
    (root / "hosp" / "admissions.csv.gz").unlink()
    with pytest.raises(EHRImportError, match=r"admissions\.csv"):
        build_from_mimic(root, tmp_path / "out.duckdb")
    assert not (tmp_path / "out.duckdb").exists()


def test_malformed_file_error_names_file_and_line(tmp_path: Path) -> None:
    root = _minimal(tmp_path)
    path = root / "hosp" / "admissions.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    fields = lines[4].split(",")
    fields[2] = "not-a-time"  # admittime of the 4th data row: file line 5
    lines[4] = ",".join(fields)
    path.unlink()
    (root / "hosp" / "admissions.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(EHRImportError) as caught:
        build_from_mimic(root, tmp_path / "out.duckdb")
    message = str(caught.value)
    assert "admissions.csv" in message
    assert "line 5" in message
    assert "admittime" in message


def test_not_a_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EHRImportError, match="not a folder"):
        build_from_mimic(tmp_path / "nowhere", tmp_path / "out.duckdb")
