"""The SQL that reads a MIMIC-IV-shaped EHR for the scenario builder (`clinsim.scenarios.mimic`).

Every query runs against the builder's `idx` table (the admissions being built) and orders its
rows and every aggregate completely (ties broken by ids or values), so that the same database
gives the same rows whatever DuckDB's thread count or the tables' physical row order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import duckdb

from clinsim.scenarios.mimic_note_files import Admission

VITALS = {
    220045: "Heart_Rate",
    220179: "Systolic",
    220180: "Diastolic",
    220210: "Respiratory_Rate",
    220277: "Oxygen_Saturation",
    223761: "Temperature",
}

INDEX_SQL = """
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
  AND (NOT $noted OR a.hadm_id IN (SELECT hadm_id FROM noted))
ORDER BY a.subject_id, a.admittime, a.hadm_id
LIMIT $limit
"""

ADMISSIONS_SQL = """
SELECT a.hadm_id, a.subject_id, a.admittime,
       p.anchor_age + year(a.admittime) - p.anchor_year AS age
FROM ehr.admissions a LEFT JOIN ehr.patients p USING (subject_id)
ORDER BY a.hadm_id
"""

_PRIOR_DX_SQL = """
SELECT i.hadm_id, a.admittime, t.long_title
FROM idx i
JOIN ehr.admissions a ON a.subject_id = i.subject_id AND a.dischtime < i.admittime
JOIN ehr.diagnoses_icd d ON d.hadm_id = a.hadm_id AND d.seq_num <= 6
JOIN ehr.d_icd_diagnoses t ON t.icd_code = d.icd_code AND t.icd_version = d.icd_version
ORDER BY i.hadm_id, a.admittime, a.hadm_id, d.seq_num
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
    SELECT i.hadm_id AS index_hadm,
           first(a.hadm_id ORDER BY a.admittime DESC, a.hadm_id DESC) AS hadm
    FROM idx i JOIN ehr.admissions a ON a.subject_id = i.subject_id AND a.dischtime < i.admittime
    GROUP BY i.hadm_id)
SELECT p.index_hadm, r.drug, count(*) AS n
FROM previous p JOIN ehr.prescriptions r ON r.hadm_id = p.hadm
WHERE r.drug_type = 'MAIN' OR r.drug_type IS NULL
GROUP BY ALL ORDER BY p.index_hadm, n DESC, r.drug
"""

VITALS_SQL = """
SELECT i.hadm_id, c.itemid, c.valuenum, c.valueuom
FROM idx i JOIN ehr.chartevents c
  ON c.subject_id = i.subject_id AND c.charttime >= i.admittime
 AND c.charttime < i.admittime + INTERVAL 24 HOUR
WHERE c.itemid IN (SELECT unnest($items::INTEGER[])) AND c.valuenum IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY i.hadm_id, c.itemid ORDER BY c.charttime, c.valuenum, c.valueuom) = 1
ORDER BY i.hadm_id, c.itemid
"""

_OMR_SQL = """
SELECT i.hadm_id, o.result_name,
       first(o.result_value ORDER BY o.chartdate DESC, o.seq_num DESC, o.result_value)
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
ORDER BY i.hadm_id, d.category, d.label, l.itemid
"""

_MICRO_SQL = """
SELECT i.hadm_id, m.spec_type_desc, m.test_name,
       string_agg(DISTINCT m.org_name, ', ' ORDER BY m.org_name),
       string_agg(DISTINCT trim(m.comments), ' ' ORDER BY trim(m.comments))
FROM idx i JOIN ehr.microbiologyevents m
  ON m.subject_id = i.subject_id AND m.hadm_id = i.hadm_id
 AND COALESCE(m.charttime, m.chartdate) < i.admittime + INTERVAL 48 HOUR
GROUP BY ALL ORDER BY 1, 2, 3
"""


def _grouped(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> dict[int, list[tuple[Any, ...]]]:
    """Rows of `sql` grouped by their first column (the index hadm_id)."""
    groups: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in con.execute(sql, params or {}).fetchall():
        groups[int(row[0])].append(tuple(row[1:]))
    return groups


@dataclass
class Extracts:
    prior_dx: dict[int, list[tuple[Any, ...]]]
    prior_dx_all: dict[int, list[tuple[Any, ...]]]
    prior_adm: dict[int, list[tuple[Any, ...]]]
    meds: dict[int, list[tuple[Any, ...]]]
    vitals: dict[int, list[tuple[Any, ...]]]
    omr: dict[int, list[tuple[Any, ...]]]
    labs: dict[int, list[tuple[Any, ...]]]
    micro: dict[int, list[tuple[Any, ...]]]


def extract(con: duckdb.DuckDBPyConnection) -> Extracts:
    return Extracts(
        prior_dx=_grouped(con, _PRIOR_DX_SQL),
        prior_dx_all=_grouped(con, _PRIOR_DX_ALL_SQL),
        prior_adm=_grouped(con, _PRIOR_ADM_SQL),
        meds=_grouped(con, _MEDS_SQL),
        vitals=_grouped(con, VITALS_SQL, {"items": list(VITALS)}),
        omr=_grouped(con, _OMR_SQL),
        labs=_grouped(con, _LABS_SQL),
        micro=_grouped(con, _MICRO_SQL),
    )


def admissions(con: duckdb.DuckDBPyConnection) -> dict[int, Admission]:
    rows = con.execute(ADMISSIONS_SQL).fetchall()
    return {
        int(hadm): Admission(int(subject), admit, int(age) if age is not None else None)
        for hadm, subject, admit, age in rows
    }
