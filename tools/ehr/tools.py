"""The EHR tools offered to the doctor: `query_ehr` plus canned reads that need no SQL.

Every tool reads the sealed view of the encounter's patient (one subject, rows before the index
time, never the index admission's diagnoses or discharge data). The view is built on first use
and cached in `ctx.resources`, keyed by EHR file, scenario id and index time, so the calls of one
episode (and repeated episodes of the same scenario in a run) share it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, field_validator

from clinsim.environments.ehr.demo import default_ehr
from clinsim.environments.tool_spec import Arguments, NoArguments
from clinsim.plugins import Config
from clinsim.tools.base import Tool, ToolContext, ToolError, ToolResult, ToolSpec, tool
from clinsim.tools.ehr import canned
from clinsim.tools.ehr.sealed import EHRQueryError, QueryResult, SealedEHR

CACHE_KEY = "clinsim.tools.ehr.sealed"
MAX_CACHED_VIEWS = 32
MAX_CELL_CHARS = 200
_CACHE_LOCK = threading.Lock()
A = TypeVar("A", bound=BaseModel)

_TABLES_HELP = (
    "Tables (MIMIC-IV names and columns): patients, admissions, diagnoses_icd (+ d_icd_diagnoses "
    "for long_title), procedures_icd (+ d_icd_procedures), drgcodes, labevents (+ d_labitems: "
    "itemid -> label), microbiologyevents, prescriptions, omr (outpatient measurements), "
    "icustays, chartevents (+ d_items), encounter (subject_id, index_time)."
)


class EHRConfig(Config):
    ehr_db: Path | None = Field(
        default=None,
        description="EHR database of the scenarios' patients (MIMIC-IV demo scenarios: the "
        "bundled demo when not given).",
    )


def database_for(config: EHRConfig, ctx: ToolContext) -> Path | None:
    """The EHR database of this episode's patient: the configured one, else the bundled demo's
    for scenarios of the demo set."""
    if config.ehr_db is None:
        return default_ehr(ctx.scenario_id, ctx.source, ctx.case)
    path = Path(config.ehr_db)
    if not path.is_absolute() and ctx.base_dir is not None:
        path = ctx.base_dir / path
    return path


ViewKey = tuple[str, str, int, int | None, str]
"""(database, scenario, subject, admission, index time)"""


def _views(ctx: ToolContext) -> OrderedDict[ViewKey, SealedEHR]:
    with _CACHE_LOCK:
        views = ctx.resources.get(CACHE_KEY)
        if not isinstance(views, OrderedDict):
            views = OrderedDict()
            ctx.resources[CACHE_KEY] = views
        return views


def sealed_view(db: Path, ctx: ToolContext) -> SealedEHR:
    """The encounter's sealed EHR view (built once, then reused)."""
    link = ctx.case.ehr
    if link is None:
        raise ToolError("this case is not linked to an EHR patient")
    key: ViewKey = (
        str(db),
        ctx.scenario_id,
        link.subject_id,
        link.hadm_id,
        link.index_time.isoformat(),
    )
    views = _views(ctx)
    with _CACHE_LOCK:
        if key in views:
            views.move_to_end(key)
            return views[key]
    try:
        view = SealedEHR.seal(db, link.subject_id, link.index_time, link.hadm_id)
    except EHRQueryError as exc:
        raise ToolError(str(exc)) from exc
    with _CACHE_LOCK:
        kept = views.setdefault(key, view)  # another thread may have sealed it meanwhile
        while len(views) > MAX_CACHED_VIEWS:
            views.popitem(last=False)  # not closed here: an episode may still be using it
    if kept is not view:
        view.close()
    return kept


def format_result(result: QueryResult) -> str:
    """A pipe-separated table: header, rows, and a count or truncation notice."""

    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value)
        return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 3] + "..."

    lines = [" | ".join(result.columns)]
    lines += [" | ".join(cell(v) for v in row) for row in result.rows]
    if result.truncated:
        lines.append(
            f"(truncated: only the first {len(result.rows)} rows are shown; "
            "narrow the query with WHERE, LIMIT or aggregates)"
        )
    else:
        lines.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(lines)


class EHRTool(Tool[A]):
    """Offered only when the case links to an EHR patient and there is an EHR database."""

    def __init__(self, config: EHRConfig):
        self.config = config

    def available(self, ctx: ToolContext) -> bool:
        return ctx.case.ehr is not None and database_for(self.config, ctx) is not None

    def answer(self, view: SealedEHR, arguments: A) -> ToolResult:
        raise NotImplementedError

    async def run(self, arguments: A, ctx: ToolContext) -> ToolResult:
        db = await asyncio.to_thread(database_for, self.config, ctx)
        if db is None:
            raise ToolError("no EHR database is configured for this run")
        view = await asyncio.to_thread(sealed_view, db, ctx)
        try:
            return await asyncio.to_thread(self.answer, view, arguments)
        except EHRQueryError as exc:
            raise ToolError(str(exc)) from exc


class QueryArguments(Arguments):
    sql: str = Field(description="One SELECT statement.")

    @field_validator("sql")
    @classmethod
    def _statement(cls, sql: str) -> str:
        if not sql.strip():
            raise ValueError("give one SELECT statement")
        return sql


class QueryEHR(EHRTool[QueryArguments]):
    spec = ToolSpec(
        name="query_ehr",
        description=(
            "Run one read-only SQL SELECT (DuckDB dialect) on this patient's electronic health "
            "record. Only this patient's rows recorded before the current encounter exist. "
            + _TABLES_HELP
            + " Results are capped at 200 rows."
        ),
        arguments=QueryArguments,
    )

    def answer(self, view: SealedEHR, arguments: QueryArguments) -> ToolResult:
        result = view.query(arguments.sql)
        return ToolResult(text=format_result(result), data=result.to_json())


def _parse_time(raw: object) -> datetime | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw
    if not isinstance(raw, str):
        raise ValueError("must be an ISO date or date-time string such as 2180-05-06")
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(
            f"not an ISO date or date-time: {raw!r} (use e.g. 2180-05-06 or 2180-05-06 14:30)"
        ) from None


class LabHistoryArguments(Arguments):
    name: str = Field(description="Lab test name or part of it.")
    start: datetime | None = Field(default=None, description="Optional ISO date/time (inclusive).")
    end: datetime | None = Field(default=None, description="Optional ISO date/time (exclusive).")

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("give a lab test name, e.g. 'creatinine'")
        return name

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, raw: object) -> datetime | None:
        return _parse_time(raw)


class GetLabHistory(EHRTool[LabHistoryArguments]):
    spec = ToolSpec(
        name="get_lab_history",
        description=(
            "Timeline of one lab test in this patient's record (e.g. 'creatinine', "
            "'hemoglobin'), optionally within a time window."
        ),
        arguments=LabHistoryArguments,
    )

    def answer(self, view: SealedEHR, arguments: LabHistoryArguments) -> ToolResult:
        text = canned.lab_history(view, arguments.name, arguments.start, arguments.end)
        return ToolResult(text=text)


class CannedEHRTool(EHRTool[NoArguments]):
    """A parameter-free read of the record."""

    def read(self, view: SealedEHR) -> str:
        raise NotImplementedError

    def answer(self, view: SealedEHR, arguments: NoArguments) -> ToolResult:
        return ToolResult(text=self.read(view))


def _canned(name: str, description: str) -> ToolSpec:
    return ToolSpec(name=name, description=description)


class GetPatientSummary(CannedEHRTool):
    spec = _canned(
        "get_patient_summary",
        "Demographics, the timeline of hospital admissions and what the record holds, "
        "as of the current encounter.",
    )

    def read(self, view: SealedEHR) -> str:
        return canned.patient_summary(view)


class GetLatestLabs(CannedEHRTool):
    spec = _canned("get_latest_labs", "The most recent value of every lab test on record.")

    def read(self, view: SealedEHR) -> str:
        return canned.latest_labs(view)


class GetMedications(CannedEHRTool):
    spec = _canned(
        "get_medications", "Drugs prescribed to this patient before now, most recent first."
    )

    def read(self, view: SealedEHR) -> str:
        return canned.medications(view)


class GetPriorDiagnoses(CannedEHRTool):
    spec = _canned(
        "get_prior_diagnoses", "Coded diagnoses (ICD) of this patient's earlier admissions."
    )

    def read(self, view: SealedEHR) -> str:
        return canned.prior_diagnoses(view)


class GetMicrobiology(CannedEHRTool):
    spec = _canned(
        "get_microbiology", "Microbiology specimens and results on record, most recent first."
    )

    def read(self, view: SealedEHR) -> str:
        return canned.microbiology(view)


class GetVitals(CannedEHRTool):
    spec = _canned(
        "get_vitals",
        "Charted vital signs (latest value and range) and outpatient measurements on record.",
    )

    def read(self, view: SealedEHR) -> str:
        return canned.vitals(view)


@tool("query_ehr", config=EHRConfig)
def query_ehr(config: EHRConfig) -> QueryEHR:
    return QueryEHR(config)


@tool("get_lab_history", config=EHRConfig)
def get_lab_history(config: EHRConfig) -> GetLabHistory:
    return GetLabHistory(config)


@tool("get_patient_summary", config=EHRConfig)
def get_patient_summary(config: EHRConfig) -> GetPatientSummary:
    return GetPatientSummary(config)


@tool("get_latest_labs", config=EHRConfig)
def get_latest_labs(config: EHRConfig) -> GetLatestLabs:
    return GetLatestLabs(config)


@tool("get_medications", config=EHRConfig)
def get_medications(config: EHRConfig) -> GetMedications:
    return GetMedications(config)


@tool("get_prior_diagnoses", config=EHRConfig)
def get_prior_diagnoses(config: EHRConfig) -> GetPriorDiagnoses:
    return GetPriorDiagnoses(config)


@tool("get_microbiology", config=EHRConfig)
def get_microbiology(config: EHRConfig) -> GetMicrobiology:
    return GetMicrobiology(config)


@tool("get_vitals", config=EHRConfig)
def get_vitals(config: EHRConfig) -> GetVitals:
    return GetVitals(config)
