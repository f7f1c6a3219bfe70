"""Hostile SQL that tries to exhaust memory or time: each is refused or stopped, neither this
process nor the view's worker grows past its cap, and the view answers again afterwards.

The encounter is the one of test_ehr_sandbox (patient 10000032 at her fourth admission)."""

from __future__ import annotations

import io
import json
import pickle
import resource
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from players import tool
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.ehr.demo import demo_dir
from clinsim.environments.ehr.mimic_import import build_from_mimic
from clinsim.scenarios.model import Case, EHRLink
from clinsim.tools.base import ToolContext, ToolError
from clinsim.tools.ehr.sandbox import _Unpickler
from clinsim.tools.ehr.sealed import EHRQueryError, QueryLimits, SealedEHR

SUBJECT = 10000032
INDEX_HADM = 25742920
INDEX_TIME = datetime(2180, 8, 5, 23, 44)
CAP_MB = 512  # what neither process may pass

MEMORY = [
    "SELECT range(30000000)",
    "SELECT range(100000000)",
    "SELECT repeat('x', 2000000000)",
    "SELECT list_value(range(20000000), range(20000000), range(20000000))",
    "SELECT [range(1000000) for x in range(1000)]",
    "SELECT array_agg(x) FROM range(200000000) t(x)",
    "SELECT string_agg(a.label || b.label, ',') FROM d_labitems a, d_labitems b, d_labitems c",
    "WITH RECURSIVE t(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, s || s FROM t "
    "WHERE n < 40) SELECT max(length(s)) FROM t",
    "SELECT unnest(range(150000000))",
]
TIME = [
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
    "SELECT count(*) FROM generate_series(1, 100000000000)",
    # one regexp over a 50 MB string: DuckDB does not stop inside it, the worker is killed
    "SELECT length(regexp_replace(repeat('a', 50000000), 'a', 'bb', 'g'))",
]


@pytest.fixture(scope="module")
def ehr_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ehr") / "demo.duckdb"
    build_from_mimic(demo_dir(), out)
    return out


@pytest.fixture
def view(ehr_db: Path) -> Iterator[SealedEHR]:
    sealed = SealedEHR.seal(ehr_db, SUBJECT, INDEX_TIME, INDEX_HADM, QueryLimits(timeout_s=1.0))
    yield sealed
    sealed.close()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_peak_mb(view: SealedEHR) -> float | None:
    pid = view.worker_pid
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


@pytest.mark.parametrize("sql", MEMORY + TIME)
def test_hostile_statements_are_bounded(view: SealedEHR, sql: str) -> None:
    before = _peak_mb()
    with pytest.raises(EHRQueryError, match=r"^query (failed|stopped)"):
        view.query(sql)
    assert _peak_mb() - before < 64  # nothing of it reached this process
    worker_peak = _worker_peak_mb(view)
    assert worker_peak is None or worker_peak < CAP_MB
    assert view.query("SELECT count(*) FROM patients").rows == [[1]]  # still answers


def test_a_query_that_ignores_the_interrupt_is_killed_and_the_view_resealed(
    view: SealedEHR,
) -> None:
    first = view.worker_pid
    with pytest.raises(EHRQueryError, match="ran past the 1 s time limit"):
        view.query(TIME[-1])
    assert view.worker_pid is None  # killed
    assert view.query("SELECT DISTINCT subject_id FROM labevents").rows == [[SUBJECT]]
    assert view.worker_pid not in (None, first)
    later = view.query(f"SELECT count(*) FROM labevents WHERE charttime >= '{INDEX_TIME}'")
    assert later.rows == [[0]]  # the new worker holds the same sealed rows


def test_the_canned_reads_survive_a_killed_worker(view: SealedEHR) -> None:
    with pytest.raises(EHRQueryError):
        view.query(TIME[-1])
    assert view.rows("SELECT gender FROM patients") == [("F",)]


async def test_query_ehr_in_an_episode_is_bounded(ehr_db: Path) -> None:
    link = EHRLink(subject_id=SUBJECT, hadm_id=INDEX_HADM, index_time=INDEX_TIME)
    ctx = ToolContext(
        scenario_id="mimic-iv-demo/25742920", case=Case(objective="diagnose", ehr=link)
    )
    query_ehr = tool("query_ehr", ehr_db=str(ehr_db))
    before = _peak_mb()
    with pytest.raises(ToolError, match=r"more memory|Out of Memory"):
        await query_ehr.call({"sql": "SELECT range(100000000)"}, ctx)
    assert _peak_mb() - before < 64
    result = await query_ehr.call({"sql": "SELECT count(*) FROM patients"}, ctx)
    assert isinstance(result.data, dict) and result.data["rows"] == [[1]]


def test_ehr_query_cli_reports_a_hostile_statement(ehr_db: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "ehr",
            "query",
            "--db",
            str(ehr_db),
            "--subject-id",
            str(SUBJECT),
            "--as-of",
            str(INDEX_TIME),
            "SELECT repeat('x', 2000000000)",
        ],
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["error"].startswith("query failed")


def test_replies_carry_only_plain_values() -> None:
    for hostile in (print, Path("/etc/passwd"), io.BytesIO()):
        with pytest.raises(pickle.UnpicklingError):
            _Unpickler(io.BytesIO(pickle.dumps(("ok", hostile)))).load()
    plain = ("ok", [datetime(2180, 1, 1), 1.5, "x", None, b"y"])
    assert _Unpickler(io.BytesIO(pickle.dumps(plain))).load() == plain


def test_the_worker_imports_no_clinsim_module() -> None:
    from clinsim.tools.ehr import sandbox_worker

    source = Path(sandbox_worker.__file__).read_text(encoding="utf-8")
    assert "import clinsim" not in source and "from clinsim" not in source
