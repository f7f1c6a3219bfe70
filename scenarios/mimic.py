"""MIMIC-derived scenarios (AgentClinic-MIMIC-IV style, OSCE shape) from an EHR database.

One scenario per admission that has a principal diagnosis and early labs:
- index time = admission time; the EHR link (subject, admission, index time) is set so the EHR
  tools show the record as it stood when the patient arrived;
- patient facts from demographics, earlier admissions (their coded diagnoses as past history)
  and the drugs of the most recent earlier admission;
- examination: the first charted vital signs of the admission (else recent outpatient ones);
- tests: the first result of each lab test in the admission's first 24 hours, and the
  microbiology of its first 48 hours;
- correct diagnosis: the principal diagnosis (seq_num 1) long title.

The patient's story is a template paragraph; a `phrase(facts_text) -> str` callable may rewrite
it (e.g. a local model: MIMIC data must not be sent to remote services). This module reads the
EHR with plain SQL on MIMIC-IV table names and calls no model itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from clinsim.scenarios.audit import EHR_LEAK_TAG
from clinsim.scenarios.model import (
    AnswerKey,
    Case,
    EHRLink,
    Facts,
    PatientFacts,
    Provenance,
    Scenario,
)
from clinsim.scenarios.text import NameMatcher

Phrase = Callable[[str], str]

# MIMIC-IV d_items ids of the vital signs used for the examination.
_VITALS = {
    220045: "Heart_Rate",
    220179: "Systolic",
    220180: "Diastolic",
    220210: "Respiratory_Rate",
    220277: "Oxygen_Saturation",
    223761: "Temperature",
}


class MimicScenarioError(Exception):
    """The EHR database cannot be turned into scenarios (names the file and the reason)."""


@dataclass(frozen=True)
class MimicSetInfo:
    set_name: str = "mimic-iv"
    license: str = "PhysioNet Credentialed Health Data License 1.5.0"
    attribution: str = "MIMIC-IV (Johnson et al., PhysioNet)"


def template_phrase(facts_text: str) -> str:
    """The default writer: the facts paragraph as it is."""
    return facts_text


_INDEX_SQL = """
CREATE TEMP TABLE idx AS
SELECT a.subject_id, a.hadm_id, a.admittime, a.edregtime, a.admission_type,
       a.admission_location, a.insurance, a.language, a.marital_status, a.race,
       p.gender, p.anchor_age, p.anchor_year, t.long_title AS diagnosis
FROM ehr.admissions a
JOIN ehr.patients p USING (subject_id)
JOIN ehr.diagnoses_icd d ON d.hadm_id = a.hadm_id AND d.seq_num = 1
JOIN ehr.d_icd_diagnoses t ON t.icd_code = d.icd_code AND t.icd_version = d.icd_version
WHERE EXISTS (
    SELECT 1 FROM ehr.labevents l
    WHERE l.subject_id = a.subject_id AND l.hadm_id = a.hadm_id
      AND l.charttime < a.admittime + INTERVAL 24 HOUR)
ORDER BY a.subject_id, a.admittime
LIMIT $limit
"""

_PRIOR_DX_SQL = """
SELECT i.hadm_id, a.admittime, t.long_title
FROM idx i
JOIN ehr.admissions a ON a.subject_id = i.subject_id AND a.dischtime < i.admittime
JOIN ehr.diagnoses_icd d ON d.hadm_id = a.hadm_id AND d.seq_num <= 6
JOIN ehr.d_icd_diagnoses t ON t.icd_code = d.icd_code AND t.icd_version = d.icd_version
ORDER BY i.hadm_id, a.admittime, d.seq_num
"""

_PRIOR_DX_ALL_SQL = _PRIOR_DX_SQL.replace(" AND d.seq_num <= 6", "")
"""Every coded diagnosis of earlier, finished admissions: what the EHR tools can show."""

_PRIOR_ADM_SQL = """
SELECT i.hadm_id, count(*), max(a.dischtime)
FROM idx i JOIN ehr.admissions a ON a.subject_id = i.subject_id AND a.dischtime < i.admittime
GROUP BY i.hadm_id
"""

_MEDS_SQL = """
WITH previous AS (
    SELECT i.hadm_id AS index_hadm, arg_max(a.hadm_id, a.admittime) AS hadm
    FROM idx i JOIN ehr.admissions a ON a.subject_id = i.subject_id AND a.dischtime < i.admittime
    GROUP BY i.hadm_id)
SELECT p.index_hadm, r.drug, count(*) AS n
FROM previous p JOIN ehr.prescriptions r ON r.hadm_id = p.hadm
WHERE r.drug_type = 'MAIN' OR r.drug_type IS NULL
GROUP BY ALL ORDER BY p.index_hadm, n DESC, r.drug
"""

_VITALS_SQL = """
SELECT i.hadm_id, c.itemid, c.valuenum, c.valueuom
FROM idx i JOIN ehr.chartevents c
  ON c.subject_id = i.subject_id AND c.charttime >= i.admittime
 AND c.charttime < i.admittime + INTERVAL 24 HOUR
WHERE c.itemid IN (SELECT unnest($items::INTEGER[])) AND c.valuenum IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY i.hadm_id, c.itemid ORDER BY c.charttime) = 1
"""

_OMR_SQL = """
SELECT i.hadm_id, o.result_name, arg_max(o.result_value, o.chartdate)
FROM idx i JOIN ehr.omr o
  ON o.subject_id = i.subject_id AND o.chartdate <= CAST(i.admittime AS DATE)
 AND o.chartdate > CAST(i.admittime AS DATE) - INTERVAL 365 DAY
GROUP BY ALL ORDER BY 1, 2
"""

_LABS_SQL = """
SELECT i.hadm_id, d.category, d.fluid, d.label, l.value, l.valuenum, l.valueuom, l.flag,
       l.ref_range_lower, l.ref_range_upper
FROM idx i
JOIN ehr.labevents l ON l.subject_id = i.subject_id AND l.hadm_id = i.hadm_id
 AND l.charttime < i.admittime + INTERVAL 24 HOUR
JOIN ehr.d_labitems d ON d.itemid = l.itemid
WHERE (l.value IS NOT NULL OR l.valuenum IS NOT NULL)
  AND d.label NOT ILIKE '%hold%' AND d.label NOT ILIKE '%held%'
QUALIFY row_number() OVER (PARTITION BY i.hadm_id, l.itemid ORDER BY l.charttime, l.labevent_id) = 1
ORDER BY i.hadm_id, d.category, d.label
"""

_MICRO_SQL = """
SELECT i.hadm_id, m.spec_type_desc, m.test_name,
       string_agg(DISTINCT m.org_name, ', '), string_agg(DISTINCT trim(m.comments), ' ')
FROM idx i JOIN ehr.microbiologyevents m
  ON m.subject_id = i.subject_id AND m.hadm_id = i.hadm_id
 AND COALESCE(m.charttime, m.chartdate) < i.admittime + INTERVAL 48 HOUR
GROUP BY ALL ORDER BY 1, 2, 3
"""


def _open(ehr_db: Path) -> duckdb.DuckDBPyConnection:
    if not Path(ehr_db).is_file():
        raise MimicScenarioError(f"{ehr_db}: no such EHR database file")
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH ? AS ehr (READ_ONLY)", [str(ehr_db)])
        con.execute("SELECT 1 FROM ehr.admissions, ehr.patients, ehr.diagnoses_icd LIMIT 0")
    except duckdb.Error as exc:
        con.close()
        raise MimicScenarioError(f"{ehr_db}: not a clinsim EHR database: {exc}") from exc
    return con


def _grouped(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> dict[int, list[tuple[Any, ...]]]:
    """Rows of `sql` grouped by their first column (the index hadm_id)."""
    groups: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in con.execute(sql, params or {}).fetchall():
        groups[int(row[0])].append(tuple(row[1:]))
    return groups


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _lab_text(row: tuple[Any, ...]) -> str:
    value, num, unit, flag, low, high = row
    text = _number(num) if num is not None else str(value).strip()
    if unit and str(unit).strip():
        text += f" {str(unit).strip()}"
    notes = [str(flag)] if flag else []
    if low is not None and high is not None:
        notes.append(f"reference {_number(low)}-{_number(high)}")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _tests(labs: list[tuple[Any, ...]], micro: list[tuple[Any, ...]]) -> dict[str, Facts]:
    tests: dict[str, dict[str, Facts]] = {}
    for category, fluid, label, *values in labs:
        group = str(category) if fluid in (None, "Blood") else f"{fluid} {category}"
        tests.setdefault(group, {})[str(label)] = _lab_text(tuple(values))
    for specimen, test, organisms, comments in micro:
        result = organisms or comments or "Pending / no result recorded."
        tests.setdefault("Microbiology", {})[f"{test} ({specimen})"] = str(result)[:400]
    return dict(tests)


def _exam(vitals: list[tuple[Any, ...]], omr: list[tuple[Any, ...]]) -> dict[str, Facts]:
    found = {_VITALS[int(item)]: (value, unit) for item, value, unit in vitals}
    signs: dict[str, Facts] = {}
    for name in ("Temperature", "Heart_Rate", "Respiratory_Rate", "Oxygen_Saturation"):
        if name in found:
            value, unit = found[name]
            signs[name] = f"{_number(value)} {unit or ''}".strip()
    if "Systolic" in found and "Diastolic" in found:
        signs["Blood_Pressure"] = (
            f"{_number(found['Systolic'][0])}/{_number(found['Diastolic'][0])} mmHg"
        )
    if not signs and omr:
        signs = {f"{name} (outpatient)": str(value) for name, value in omr}
    return {"Vital_Signs": signs} if signs else {}


def _age(row: dict[str, Any]) -> int:
    admit: datetime = row["admittime"]
    return int(row["anchor_age"] or 0) + admit.year - int(row["anchor_year"] or admit.year)


def _history_text(
    row: dict[str, Any], history: list[str], prior: tuple[Any, ...] | None, meds: list[str]
) -> str:
    sex = {"F": "woman", "M": "man"}.get(str(row["gender"]), "patient")
    where = str(row["admission_location"] or "unknown origin").lower()
    parts = [
        f"A {_age(row)}-year-old {sex} admitted to hospital "
        f"(admission type {str(row['admission_type']).lower()}, from {where})."
    ]
    if prior:
        count, last_discharge = prior
        days = (row["admittime"] - last_discharge).days
        parts.append(f"{count} earlier admission(s); the last ended {days} days ago.")
    else:
        parts.append("No earlier admissions on record.")
    if history:
        parts.append("Conditions known from earlier admissions: " + "; ".join(history) + ".")
    if meds:
        parts.append("Drugs given during the last admission: " + ", ".join(meds) + ".")
    return " ".join(parts)


def _distinct(values: Iterator[str], limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)[:limit]


@dataclass
class _Extracts:
    prior_dx: dict[int, list[tuple[Any, ...]]]
    prior_dx_all: dict[int, list[tuple[Any, ...]]]
    prior_adm: dict[int, list[tuple[Any, ...]]]
    meds: dict[int, list[tuple[Any, ...]]]
    vitals: dict[int, list[tuple[Any, ...]]]
    omr: dict[int, list[tuple[Any, ...]]]
    labs: dict[int, list[tuple[Any, ...]]]
    micro: dict[int, list[tuple[Any, ...]]]


def _extract(con: duckdb.DuckDBPyConnection) -> _Extracts:
    return _Extracts(
        prior_dx=_grouped(con, _PRIOR_DX_SQL),
        prior_dx_all=_grouped(con, _PRIOR_DX_ALL_SQL),
        prior_adm=_grouped(con, _PRIOR_ADM_SQL),
        meds=_grouped(con, _MEDS_SQL),
        vitals=_grouped(con, _VITALS_SQL, {"items": list(_VITALS)}),
        omr=_grouped(con, _OMR_SQL),
        labs=_grouped(con, _LABS_SQL),
        micro=_grouped(con, _MICRO_SQL),
    )


def _ehr_leak_tags(row: dict[str, Any], prior_dx: list[tuple[Any, ...]]) -> list[str]:
    names = NameMatcher([str(row["diagnosis"])])  # the audit's names: main text and alias
    seen = any(names.found_in(str(title)) for _, title in prior_dx)
    return [EHR_LEAK_TAG] if seen else []


def _scenario(
    row: dict[str, Any], data: _Extracts, info: MimicSetInfo, phrase: Phrase, record: int
) -> Scenario:
    hadm = int(row["hadm_id"])
    history = _distinct((str(title) for _, title in data.prior_dx.get(hadm, [])), 12)
    meds = _distinct((str(drug) for drug, _ in data.meds.get(hadm, [])), 12)
    prior = data.prior_adm.get(hadm, [None])[0]
    sex = {"F": "female", "M": "male"}.get(str(row["gender"]), str(row["gender"]))
    social = {
        "Marital_Status": row["marital_status"],
        "Language": row["language"],
        "Insurance": row["insurance"],
    }
    patient = PatientFacts(
        demographics=f"{_age(row)}-year-old {sex}",
        history=phrase(_history_text(row, history, prior, meds)),
        past_medical_history=history or "No earlier admissions on record.",
        medications=meds or None,
        social_history={k: v for k, v in social.items() if v and v != "?"} or None,
    )
    case = Case(
        objective=(
            "Assess the patient being admitted to hospital and determine the principal "
            "diagnosis for this admission. The patient's electronic health record (earlier "
            "admissions, labs, medications) is available through the EHR tools."
        ),
        patient=patient,
        exam=_exam(data.vitals.get(hadm, []), data.omr.get(hadm, [])),
        tests=_tests(data.labs.get(hadm, []), data.micro.get(hadm, [])),
        ehr=EHRLink(subject_id=int(row["subject_id"]), hadm_id=hadm, index_time=row["admittime"]),
        tags=["mimic-iv", "ehr", *_ehr_leak_tags(row, data.prior_dx_all.get(hadm, []))],
    )
    return Scenario(
        id=f"{info.set_name}/{hadm}",
        format="osce",
        case=case,
        answer=AnswerKey(diagnosis=str(row["diagnosis"])),
        provenance=Provenance(
            source=info.set_name,
            record=record,
            license=info.license,
            attribution=info.attribution,
        ),
    )


def build_mimic_scenarios(
    ehr_db: Path,
    info: MimicSetInfo | None = None,
    limit: int | None = None,
    phrase: Phrase = template_phrase,
) -> list[Scenario]:
    """One scenario per admission with a principal diagnosis and early labs, in
    (subject, admission time) order; at most `limit`."""
    info = info or MimicSetInfo()
    con = _open(Path(ehr_db))
    try:
        con.execute(_INDEX_SQL, {"limit": limit if limit is not None else 2**62})
        cursor = con.execute("SELECT * FROM idx ORDER BY subject_id, admittime")
        names = [str(d[0]) for d in cursor.description or []]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        data = _extract(con)
    except duckdb.Error as exc:
        raise MimicScenarioError(f"{ehr_db}: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    return [_scenario(row, data, info, phrase, n) for n, row in enumerate(rows, start=1)]
