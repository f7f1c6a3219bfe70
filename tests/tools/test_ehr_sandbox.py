"""The sealed EHR view through the real tools: hostile SQL is refused or sees only permitted rows.

The encounter is patient 10000032's fourth admission (hadm 25742920, admitted 2180-08-05 23:44);
she had three earlier admissions and has rows after the index time that must stay invisible.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from players import tool

from clinsim.environments.ehr.demo import demo_dir
from clinsim.environments.ehr.mimic_import import build_from_mimic
from clinsim.scenarios.model import Case, EHRLink
from clinsim.tools.base import BaseTool, ToolContext, ToolError
from clinsim.tools.ehr import tools as ehr_tools
from clinsim.tools.ehr.sealed import QueryLimits, SealedEHR

SUBJECT = 10000032
INDEX_HADM = 25742920
INDEX_TIME = datetime(2180, 8, 5, 23, 44)


@pytest.fixture(scope="module")
def ehr_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ehr") / "demo.duckdb"
    build_from_mimic(demo_dir(), out)
    return out


NAMES = [
    "query_ehr",
    "get_patient_summary",
    "get_lab_history",
    "get_latest_labs",
    "get_medications",
    "get_prior_diagnoses",
    "get_microbiology",
    "get_vitals",
]
Tools = dict[str, BaseTool]


@pytest.fixture
def ctx() -> ToolContext:
    link = EHRLink(subject_id=SUBJECT, hadm_id=INDEX_HADM, index_time=INDEX_TIME)
    return ToolContext(
        scenario_id="mimic-iv-demo/25742920", case=Case(objective="diagnose", ehr=link)
    )


@pytest.fixture
def tools(ehr_db: Path) -> Tools:
    """The EHR tools as a run with `--ehr EHR_DB` builds them."""
    return {name: tool(name, ehr_db=str(ehr_db)) for name in NAMES}


async def query(tools: Tools, ctx: ToolContext, sql: str) -> list[list[object]]:
    result = await tools["query_ehr"].call({"sql": sql}, ctx)
    assert isinstance(result.data, dict)
    rows = result.data["rows"]
    assert isinstance(rows, list)
    return rows  # type: ignore[return-value]


def _snapshot(*folders: Path) -> dict[str, str]:
    files = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


HOSTILE = [
    "SELECT * FROM read_csv('{db_dir}/x.csv')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('{db_dir}/*.parquet')",
    "SELECT * FROM '{db}'",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('{db}')",
    "COPY labevents TO '{db_dir}/leak.csv'",
    "COPY (SELECT 1) TO '{db_dir}/leak.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{db_dir}/export'",
    "ATTACH '{db}' AS full_ehr",
    "ATTACH '{db_dir}/new.duckdb' AS fresh",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "SELECT 1; SELECT 2",
    "SELECT 1; COPY labevents TO '{db_dir}/leak2.csv'",
    "CREATE TABLE t AS SELECT 1",
    "INSERT INTO labevents (subject_id) VALUES (1)",
    "DELETE FROM patients",
    "DROP TABLE labevents",
    "UPDATE admissions SET dischtime = NULL",
    "CALL pragma_version()",
    "CHECKPOINT",
    "SELECT * FROM query('SELECT 1; COPY labevents TO ''{db_dir}/leak3.csv''')",
    "SELECT * FROM query_table('{db}')",
    "SELECT * FROM parquet_scan('{db_dir}/x.parquet')",
    "SELECT * FROM sqlite_scan('{db}', 'patients')",
    "SELECT * FROM ehr_sneaky_python_frame_variable",
    "SELEC * FROM labevents",
    "SELECT * FROM ehr_source.patients",  # the full file was attached while sealing, then detached
    "SELECT * FROM ehr_source.main.labevents",
    "USE ehr_source",
    "SELECT * FROM memory.main.patients p, ehr_source.main.patients q",
]


@pytest.mark.parametrize("template", HOSTILE)
async def test_hostile_sql_is_refused_and_touches_no_file(
    template: str,
    ctx: ToolContext,
    tools: Tools,
    ehr_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    sql = template.format(db=ehr_db, db_dir=ehr_db.parent)
    before = _snapshot(ehr_db.parent, tmp_path)
    ehr_sneaky_python_frame_variable = pa.table({"secret": [1]})  # noqa: F841 - replacement scan bait
    with pytest.raises(ToolError, match=r"^query (refused|failed|stopped)"):
        await query(tools, ctx, sql)
    assert _snapshot(ehr_db.parent, tmp_path) == before
    # the view still answers, unchanged
    assert await query(tools, ctx, "SELECT count(*) FROM patients") == [[1]]


async def test_only_this_subject_exists(ctx: ToolContext, tools: Tools) -> None:
    for table in ("patients", "admissions", "labevents", "chartevents", "prescriptions", "omr"):
        rows = await query(tools, ctx, f"SELECT DISTINCT subject_id FROM {table}")
        assert rows == [[SUBJECT]], table
    assert await query(
        tools, ctx, "SELECT count(*) FROM labevents WHERE subject_id <> 10000032"
    ) == [[0]]
    other = await query(tools, ctx, "SELECT count(*) FROM admissions WHERE subject_id = 10000084")
    assert other == [[0]]


async def test_nothing_from_after_the_index_time(
    ctx: ToolContext, tools: Tools, ehr_db: Path
) -> None:
    with duckdb.connect(str(ehr_db), read_only=True) as con:
        later = con.execute(
            "SELECT count(*) FROM labevents WHERE subject_id = ? AND charttime >= ?",
            [SUBJECT, INDEX_TIME],
        ).fetchone()
    assert later is not None and later[0] > 0  # the full record has future rows...
    for table, column in (
        ("labevents", "charttime"),
        ("chartevents", "charttime"),
        ("microbiologyevents", "charttime"),
        ("prescriptions", "starttime"),
        ("icustays", "intime"),
    ):
        rows = await query(
            tools, ctx, f"SELECT count(*) FROM {table} WHERE {column} >= '{INDEX_TIME}'"
        )
        assert rows == [[0]], table  # ...the view has none
    admits = await query(tools, ctx, "SELECT max(admittime) FROM admissions")
    assert admits == [[str(INDEX_TIME)]]
    later_stays = await query(
        tools, ctx, "SELECT count(*) FROM admissions WHERE hadm_id IN (SELECT 1)"
    )
    assert later_stays == [[0]]


async def test_index_admission_keeps_its_diagnoses_drg_and_discharge_hidden(
    ctx: ToolContext, tools: Tools, ehr_db: Path
) -> None:
    with duckdb.connect(str(ehr_db), read_only=True) as con:
        coded = con.execute(
            "SELECT count(*) FROM diagnoses_icd WHERE hadm_id = ?", [INDEX_HADM]
        ).fetchone()
    assert coded is not None and coded[0] > 0
    assert (
        await query(tools, ctx, f"SELECT * FROM diagnoses_icd WHERE hadm_id = {INDEX_HADM}") == []
    )
    assert await query(tools, ctx, f"SELECT * FROM drgcodes WHERE hadm_id = {INDEX_HADM}") == []
    assert (
        await query(tools, ctx, f"SELECT * FROM procedures_icd WHERE hadm_id = {INDEX_HADM}") == []
    )
    row = await query(
        tools,
        ctx,
        "SELECT dischtime, deathtime, discharge_location, hospital_expire_flag FROM admissions "
        f"WHERE hadm_id = {INDEX_HADM}",
    )
    assert row == [[None, None, None, None]]
    earlier = await query(tools, ctx, "SELECT count(DISTINCT hadm_id) FROM diagnoses_icd")
    assert earlier == [[3]]  # the three earlier admissions keep theirs


async def test_unbounded_cross_join_is_stopped_by_the_time_limit(ehr_db: Path) -> None:
    view = SealedEHR.seal(ehr_db, SUBJECT, INDEX_TIME, INDEX_HADM, QueryLimits(timeout_s=0.5))
    try:
        from clinsim.tools.ehr.sealed import EHRQueryError

        with pytest.raises(EHRQueryError, match="time limit"):
            view.query(
                "SELECT count(*) FROM labevents a, labevents b, labevents c, labevents d, "
                "labevents e WHERE a.valuenum + b.valuenum + c.valuenum > e.valuenum * d.valuenum"
            )
        assert view.query("SELECT count(*) FROM patients").rows == [[1]]
    finally:
        view.close()


async def test_cross_join_rows_are_capped_with_a_notice(ctx: ToolContext, tools: Tools) -> None:
    sql = "SELECT * FROM labevents a, labevents b, labevents c"
    result = await tools["query_ehr"].call({"sql": sql}, ctx)
    assert isinstance(result.data, dict) and result.data["truncated"] is True
    assert len(result.data["rows"]) == 200  # type: ignore[arg-type]
    assert "truncated" in result.text


async def test_view_is_built_once_per_encounter(ctx: ToolContext, tools: Tools) -> None:
    await query(tools, ctx, "SELECT 1")
    views = ctx.resources[ehr_tools.CACHE_KEY]
    first = next(iter(views.values()))
    await tools["get_latest_labs"].call({}, ctx)
    assert len(views) == 1 and next(iter(views.values())) is first


def test_tools_are_offered_only_with_a_link_and_a_database(ctx: ToolContext, tools: Tools) -> None:
    assert all(tools[name].available(ctx) for name in NAMES)
    elsewhere = ToolContext(scenario_id="x", case=ctx.case)  # no database configured, not the demo
    no_link = ToolContext(scenario_id="x", case=Case(objective="o"))
    unconfigured = {name: tool(name) for name in NAMES}
    assert not any(unconfigured[n].available(elsewhere) for n in NAMES)
    assert not any(tools[n].available(no_link) for n in NAMES)
    demo = ToolContext(scenario_id="y", case=ctx.case, source="mimic-iv-demo")
    assert all(unconfigured[n].available(demo) for n in NAMES)  # the bundled demo EHR


def test_python_variables_are_not_reachable(ehr_db: Path) -> None:
    view = SealedEHR.seal(ehr_db, SUBJECT, INDEX_TIME, INDEX_HADM)
    bait = pa.table({"secret": [42]})
    try:
        from clinsim.tools.ehr.sealed import EHRQueryError

        with pytest.raises(EHRQueryError, match="does not exist"):
            view.query("SELECT * FROM bait")
    finally:
        view.close()
    assert bait.num_rows == 1


def test_the_connection_settings_are_locked(ehr_db: Path) -> None:
    from clinsim.tools.ehr.sealed import EHRQueryError

    view = SealedEHR.seal(ehr_db, SUBJECT, INDEX_TIME, INDEX_HADM)
    try:
        settings = (
            "SELECT current_setting('enable_external_access'), "
            "current_setting('lock_configuration'), current_setting('python_enable_replacements')"
        )
        assert view.query(settings).rows == [[False, True, False]]
        with pytest.raises(EHRQueryError):
            view.query("SET enable_external_access = true")
    finally:
        view.close()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT repeat('x', 100000) AS s FROM range(50)", "larger than"),
        ("SELECT INTERVAL 100000000 YEAR AS i", "cannot be read"),
    ],
)
def test_oversized_or_unreadable_results_are_refused(ehr_db: Path, sql: str, message: str) -> None:
    from clinsim.tools.ehr.sealed import EHRQueryError

    view = SealedEHR.seal(ehr_db, SUBJECT, INDEX_TIME, INDEX_HADM)
    try:
        with pytest.raises(EHRQueryError, match=message):
            view.query(sql)
        assert view.query("SELECT 'nan'::DOUBLE").rows == [["nan"]]  # valid JSON, not NaN
    finally:
        view.close()


def test_a_database_of_another_schema_is_a_clear_error(tmp_path: Path) -> None:
    import duckdb

    from clinsim.tools.ehr.sealed import EHRQueryError

    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(old)) as con:
        con.execute("CREATE TABLE patients (subject_id BIGINT, gender VARCHAR)")
        con.execute(
            "CREATE TABLE admissions (subject_id BIGINT, hadm_id BIGINT, admittime TIMESTAMP)"
        )
    with pytest.raises(EHRQueryError, match="not an EHR database of the schema"):
        SealedEHR.seal(old, 1, INDEX_TIME, None)
