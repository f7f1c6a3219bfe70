"""The canned EHR tools and `clinsim ehr query`, on the bundled demo."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from players import tool
from typer.testing import CliRunner

from clinsim.cli.ehr import app
from clinsim.environments.ehr.demo import demo_dir
from clinsim.environments.ehr.mimic_import import build_from_mimic
from clinsim.scenarios.model import Case, EHRLink
from clinsim.tools.base import ToolContext, ToolError

SUBJECT = 10000032
INDEX_HADM = 25742920
AS_OF = "2180-08-05 23:44"


@pytest.fixture(scope="module")
def ehr_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ehr") / "demo.duckdb"
    build_from_mimic(demo_dir(), out)
    return out


@dataclass
class Encounter:
    """One episode's tool context, with the EHR tools of a run given `--ehr EHR_DB`."""

    ctx: ToolContext
    ehr_db: Path


@pytest.fixture
def ctx(ehr_db: Path) -> Encounter:
    link = EHRLink(subject_id=SUBJECT, hadm_id=INDEX_HADM, index_time=datetime.fromisoformat(AS_OF))
    case = Case(objective="diagnose", ehr=link)
    return Encounter(ToolContext(scenario_id="mimic-iv-demo/25742920", case=case), ehr_db)


async def call(encounter: Encounter, tool_name: str, **arguments: object) -> str:
    made = tool(tool_name, ehr_db=str(encounter.ehr_db))
    result = await made.call(arguments, encounter.ctx)  # type: ignore[arg-type]
    return result.text


async def test_patient_summary(ctx: Encounter) -> None:
    text = await call(ctx, "get_patient_summary")
    assert "female, 52 years old" in text
    assert "Hospital admissions (4" in text
    assert "(current admission)" in text
    assert "Portal hypertension" in text  # principal diagnosis of an earlier admission


async def test_lab_history_by_name_and_window(ctx: Encounter) -> None:
    text = await call(ctx, "get_lab_history", name="creatinine")
    assert "Creatinine (Blood, mg/dL" in text and "14 results" in text
    window = await call(ctx, "get_lab_history", name="Sodium", start="2180-07-01")
    assert "8 results" in window
    assert "2180-06" not in window.split("\n", 1)[1]
    with pytest.raises(ToolError, match="no lab test matching 'troponin'"):
        await call(ctx, "get_lab_history", name="troponin")
    with pytest.raises(ToolError, match="not an ISO date"):
        await call(ctx, "get_lab_history", name="sodium", start="last week")


async def test_latest_labs_medications_diagnoses_micro_vitals(ctx: Encounter) -> None:
    labs = await call(ctx, "get_latest_labs")
    assert "Creatinine: 0.6 mg/dL (2180-08-05)" in labs
    meds = await call(ctx, "get_medications")
    assert "Furosemide" in meds
    dx = await call(ctx, "get_prior_diagnoses")
    assert dx.count("Admission ") == 3
    micro = await call(ctx, "get_microbiology")
    assert "BLOOD CULTURE" in micro
    vitals = await call(ctx, "get_vitals")
    assert "Heart rate: 94 bpm" in vitals and "Blood Pressure: 98/66" in vitals


async def test_canned_tools_never_show_the_index_admissions_codes(
    ctx: Encounter, ehr_db: Path
) -> None:
    import duckdb

    with duckdb.connect(str(ehr_db), read_only=True) as con:
        titles = con.execute(
            "SELECT t.long_title FROM diagnoses_icd d JOIN d_icd_diagnoses t "
            "USING (icd_code, icd_version) WHERE d.hadm_id = ? AND d.seq_num = 1",
            [INDEX_HADM],
        ).fetchall()
    principal = titles[0][0]
    for name in ("get_patient_summary", "get_prior_diagnoses"):
        assert principal not in await call(ctx, name)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_cli_query_prints_a_lab_timeline_as_json(ehr_db: Path) -> None:
    code, out = _run(
        "query",
        "--db",
        str(ehr_db),
        "--subject-id",
        str(SUBJECT),
        "--as-of",
        AS_OF,
        "--hadm-id",
        str(INDEX_HADM),
        "SELECT l.charttime, d.label, l.valuenum FROM labevents l JOIN d_labitems d "
        "USING (itemid) WHERE d.label = 'Creatinine' ORDER BY l.charttime",
    )
    assert code == 0, out
    data = json.loads(out)
    assert data["columns"] == ["charttime", "label", "valuenum"]
    assert len(data["rows"]) == 14 and data["truncated"] is False
    assert all(row[0] < AS_OF for row in data["rows"])


HOSTILE_CLI = [
    "SELECT * FROM read_csv_auto('{db}')",
    "SELECT * FROM glob('{dir}/*')",
    "COPY labevents TO '{dir}/leak.csv'",
    "ATTACH '{db}' AS full_ehr",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA show_tables",
    "SET enable_external_access = true",
    "SELECT 1; SELECT 2",
    "CREATE TABLE x AS SELECT 1",
    "INSERT INTO patients (subject_id) VALUES (1)",
    "SELECT count(*) FROM labevents a, labevents b, labevents c, labevents d, labevents e "
    "WHERE a.valuenum * b.valuenum > c.valuenum + d.valuenum + e.valuenum",
]


@pytest.mark.parametrize("template", HOSTILE_CLI)
def test_cli_refuses_hostile_sql_as_json(
    template: str, ehr_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    digest = hashlib.sha256(ehr_db.read_bytes()).hexdigest()
    before = sorted(p.name for p in ehr_db.parent.iterdir())
    sql = template.format(db=ehr_db, dir=ehr_db.parent)
    code, out = _run(
        "query",
        "--db",
        str(ehr_db),
        "--subject-id",
        str(SUBJECT),
        "--as-of",
        AS_OF,
        "--timeout",
        "1",
        sql,
    )
    assert code == 1, out
    assert json.loads(out)["error"].startswith(("query refused", "query stopped"))
    assert hashlib.sha256(ehr_db.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in ehr_db.parent.iterdir()) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT DISTINCT subject_id FROM labevents", [[SUBJECT]]),
        ("SELECT count(*) FROM admissions WHERE subject_id <> 10000032", [[0]]),
        (f"SELECT count(*) FROM labevents WHERE charttime >= '{AS_OF}'", [[0]]),
        (f"SELECT count(*) FROM diagnoses_icd WHERE hadm_id = {INDEX_HADM}", [[0]]),
        (f"SELECT count(*) FROM drgcodes WHERE hadm_id = {INDEX_HADM}", [[0]]),
    ],
)
def test_cli_returns_only_permitted_rows(sql: str, expected: list[list[int]], ehr_db: Path) -> None:
    code, out = _run(
        "query",
        "--db",
        str(ehr_db),
        "--subject-id",
        str(SUBJECT),
        "--as-of",
        AS_OF,
        "--hadm-id",
        str(INDEX_HADM),
        sql,
    )
    assert code == 0, out
    assert json.loads(out)["rows"] == expected


def test_cli_build_and_synth(tmp_path: Path) -> None:
    code, out = _run("synth", "--patients", "20", "--out", str(tmp_path / "s.duckdb"))
    assert code == 0 and "labevents" in out
    code, out = _run("build", "--out", str(tmp_path / "d.duckdb"))
    assert code == 0 and "patients: 100 rows" in out
    code, out = _run("build", "--mimic-dir", str(tmp_path / "none"), "--out", str(tmp_path / "x"))
    assert code == 2 and "not a folder" in out and "Traceback" not in out
