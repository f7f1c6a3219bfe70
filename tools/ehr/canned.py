"""Canned EHR reads that need no SQL from the doctor: compact text a model can read.

Each function takes a `SealedEHR` (one patient, as of the index time) and returns text. They run
trusted, parameterised SQL on the same sealed database the agent's own queries see, so they can
never show more than `query_ehr` could. Every query orders its rows and its aggregates
completely, so the same record always reads the same, whatever the tables' physical row order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clinsim.environments.ehr.schema import VITAL_ITEMS
from clinsim.tools.ehr.sealed import EHRQueryError, SealedEHR

MAX_RESULTS_PER_LAB = 40
MAX_LABS_MATCHED = 8


def _when(value: Any) -> str:
    """'2180-05-06 22:23' from an ISO timestamp string ('' for none)."""
    return str(value)[:16] if value else "?"


def _day(value: Any) -> str:
    return str(value)[:10] if value else "?"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _flag(flag: Any) -> str:
    return " (abnormal)" if flag else ""


def patient_summary(ehr: SealedEHR) -> str:
    patient = ehr.rows("SELECT gender, anchor_age, anchor_year FROM patients")
    gender, anchor_age, anchor_year = patient[0]
    age = (anchor_age or 0) + ehr.index_time.year - (anchor_year or ehr.index_time.year)
    sex = {"F": "female", "M": "male"}.get(str(gender), str(gender))
    lines = [
        f"Patient {ehr.subject_id}, record as of {_when(ehr.index_time.isoformat(' '))}: "
        f"{sex}, {age} years old."
    ]
    admissions = ehr.rows(
        "SELECT a.admittime, a.dischtime, a.admission_type, a.admission_location, "
        "a.discharge_location, t.long_title FROM admissions a "
        "LEFT JOIN diagnoses_icd d ON d.hadm_id = a.hadm_id AND d.seq_num = 1 "
        "LEFT JOIN d_icd_diagnoses t USING (icd_code, icd_version) ORDER BY a.admittime, a.hadm_id"
    )
    lines.append(f"Hospital admissions ({len(admissions)}, oldest first):")
    for admit, disch, kind, origin, dest, principal in admissions:
        if disch is None:
            lines.append(f"- {_when(admit)} (current admission) {kind}, from {origin}")
            continue
        text = f"- {_when(admit)} to {_when(disch)} {kind}, from {origin}, discharged to {dest}"
        lines.append(text + (f"; principal diagnosis: {principal}" if principal else ""))
    stays = ehr.rows(
        "SELECT intime, first_careunit FROM icustays ORDER BY intime, stay_id, first_careunit"
    )
    if stays:
        lines.append("ICU stays: " + "; ".join(f"{_when(t)} {unit}" for t, unit in stays))
    counts = ehr.rows(
        "SELECT (SELECT count(*) FROM labevents), (SELECT count(DISTINCT itemid) FROM labevents),"
        " (SELECT count(DISTINCT micro_specimen_id) FROM microbiologyevents),"
        " (SELECT count(DISTINCT drug) FROM prescriptions), (SELECT count(*) FROM chartevents),"
        " (SELECT count(*) FROM omr)"
    )[0]
    lines.append(
        f"On record: {counts[0]} lab results ({counts[1]} different tests), {counts[2]} "
        f"microbiology specimens, {counts[3]} different prescribed drugs, {counts[4]} charted "
        f"observations, {counts[5]} outpatient measurements."
    )
    return "\n".join(lines)


def _match_labs(ehr: SealedEHR, name: str) -> list[tuple[Any, ...]]:
    matches = ehr.rows(
        "SELECT itemid, label, fluid FROM d_labitems WHERE label ILIKE '%' || $n || '%' "
        "OR CAST(itemid AS VARCHAR) = $n ORDER BY (lower(label) = lower($n)) DESC, label, itemid",
        {"n": name.strip()},
    )
    exact = [m for m in matches if str(m[1]).lower() == name.strip().lower()]
    return exact or matches


def lab_history(
    ehr: SealedEHR, name: str, start: datetime | None = None, end: datetime | None = None
) -> str:
    matches = _match_labs(ehr, name)
    if not matches:
        common = ehr.rows(
            "SELECT d.label FROM labevents l JOIN d_labitems d USING (itemid) "
            "GROUP BY d.label ORDER BY count(*) DESC, d.label LIMIT 25"
        )
        known = ", ".join(str(label) for (label,) in common) or "none"
        raise EHRQueryError(f"no lab test matching {name!r} on record; tests on record: {known}")
    if len(matches) > MAX_LABS_MATCHED:
        labels = ", ".join(str(m[1]) for m in matches[:20])
        raise EHRQueryError(
            f"{len(matches)} lab tests match {name!r}; be more specific (e.g. {labels})"
        )
    blocks = [
        _one_lab_history(ehr, itemid, label, fluid, start, end) for itemid, label, fluid in matches
    ]
    window = ""
    if start or end:
        window = f" between {_when(start.isoformat(' ')) if start else 'the start'} and " + (
            _when(end.isoformat(" ")) if end else "now"
        )
    return f"Lab history for {name!r}{window}:\n" + "\n".join(blocks)


def _one_lab_history(
    ehr: SealedEHR,
    itemid: int,
    label: str,
    fluid: str,
    start: datetime | None,
    end: datetime | None,
) -> str:
    rows = ehr.rows(
        "SELECT charttime, value, valuenum, valueuom, flag, ref_range_lower, ref_range_upper "
        "FROM labevents WHERE itemid = $i AND ($s::TIMESTAMP IS NULL OR charttime >= $s) "
        "AND ($e::TIMESTAMP IS NULL OR charttime < $e) ORDER BY charttime, labevent_id",
        {"i": itemid, "s": start, "e": end},
    )
    if not rows:
        return f"{label} ({fluid}): no results in this window."
    unit = next((r[3] for r in rows if r[3]), "")
    low, high = rows[-1][5], rows[-1][6]
    ref = f", reference {_number(low)}-{_number(high)}" if low is not None else ""
    head = f"{label} ({fluid}{', ' + unit if unit else ''}{ref}), {len(rows)} results"
    shown = rows[-MAX_RESULTS_PER_LAB:]
    if len(shown) < len(rows):
        head += f", latest {len(shown)} shown"
    values = [
        f"  {_when(t)}  {_number(num) if num is not None else (value or '')}{_flag(flag)}"
        for t, value, num, _, flag, _, _ in shown
    ]
    return "\n".join([head + ":", *values])


def latest_labs(ehr: SealedEHR) -> str:
    rows = ehr.rows(
        "SELECT d.category, d.label, l.value, l.valuenum, l.valueuom, l.flag, l.charttime "
        "FROM labevents l JOIN d_labitems d USING (itemid) "
        "WHERE (l.value IS NOT NULL OR l.valuenum IS NOT NULL) AND d.label NOT ILIKE '%hold%' "
        "QUALIFY row_number() OVER (PARTITION BY l.itemid ORDER BY l.charttime DESC, "
        "l.labevent_id DESC) = 1 ORDER BY d.category, d.label, l.itemid"
    )
    if not rows:
        return "No lab results on record before the index time."
    lines = [f"Latest value of each lab test ({len(rows)} tests):"]
    category = None
    for cat, label, value, num, unit, flag, when in rows:
        if cat != category:
            category = cat
            lines.append(f"{cat}:")
        shown = _number(num) if num is not None else str(value)
        lines.append(f"  {label}: {shown}{' ' + unit if unit else ''}{_flag(flag)} ({_day(when)})")
    return "\n".join(lines)


def medications(ehr: SealedEHR) -> str:
    rows = ehr.rows(
        "SELECT drug, first(concat_ws(' ', dose_val_rx, dose_unit_rx, route) ORDER BY starttime "
        "DESC, dose_val_rx, dose_unit_rx, route), "
        "max(starttime), count(*), bool_or(stoptime IS NULL) FROM prescriptions "
        "GROUP BY drug ORDER BY max(starttime) DESC, drug LIMIT 60"
    )
    if not rows:
        return "No prescriptions on record before the index time."
    lines = [f"Prescribed drugs, most recent first ({len(rows)} shown):"]
    for drug, dose, last, count, open_ended in rows:
        note = ", no stop time recorded" if open_ended else ""
        lines.append(
            f"- {drug} {dose}".rstrip() + f" (last started {_day(last)}, {count} orders{note})"
        )
    return "\n".join(lines)


def prior_diagnoses(ehr: SealedEHR) -> str:
    rows = ehr.rows(
        "SELECT a.admittime, d.seq_num, d.icd_code, d.icd_version, t.long_title "
        "FROM diagnoses_icd d JOIN admissions a USING (hadm_id) "
        "LEFT JOIN d_icd_diagnoses t USING (icd_code, icd_version) "
        "ORDER BY a.admittime, a.hadm_id, d.seq_num"
    )
    if not rows:
        return "No coded diagnoses from earlier admissions."
    lines = ["Coded diagnoses of earlier admissions (principal diagnosis first):"]
    current = None
    for admit, seq, code, version, title in rows:
        if admit != current:
            current = admit
            lines.append(f"Admission {_day(admit)}:")
        if seq <= 15:
            lines.append(f"  {seq}. {title or 'unknown code'} (ICD-{version} {code})")
    return "\n".join(lines)


def microbiology(ehr: SealedEHR) -> str:
    rows = ehr.rows(
        "SELECT min(COALESCE(charttime, chartdate)) AS taken, min(spec_type_desc), test_name, "
        "string_agg(DISTINCT org_name, ', ' ORDER BY org_name), "
        "string_agg(DISTINCT CASE WHEN interpretation = 'R' THEN ab_name END, ', ' "
        "ORDER BY CASE WHEN interpretation = 'R' THEN ab_name END), "
        "string_agg(DISTINCT trim(comments), ' ' ORDER BY trim(comments)) "
        "FROM microbiologyevents GROUP BY micro_specimen_id, test_name "
        "ORDER BY taken DESC, micro_specimen_id DESC, test_name LIMIT 40"
    )
    if not rows:
        return "No microbiology results on record before the index time."
    lines = [f"Microbiology, most recent first ({len(rows)} shown):"]
    for taken, specimen, test, organisms, resistant, comments in rows:
        result = organisms or (comments or "no result text")[:160]
        extra = f"; resistant to {resistant}" if resistant else ""
        lines.append(f"- {_day(taken)} {specimen}, {test}: {result}{extra}")
    return "\n".join(lines)


def vitals(ehr: SealedEHR) -> str:
    items = list(VITAL_ITEMS)
    charted = ehr.rows(
        "SELECT itemid, first(valuenum ORDER BY charttime DESC, valuenum DESC), "
        "first(valueuom ORDER BY charttime DESC, valuenum DESC, valueuom), "
        "max(charttime), min(valuenum), max(valuenum), count(*) FROM chartevents "
        "WHERE itemid IN (SELECT unnest($items::INTEGER[])) AND valuenum IS NOT NULL "
        "GROUP BY itemid",
        {"items": items},
    )
    outpatient = ehr.rows(
        "SELECT result_name, first(result_value ORDER BY chartdate DESC, seq_num DESC, "
        "result_value), max(chartdate) FROM omr "
        "GROUP BY result_name ORDER BY result_name"
    )
    if not charted and not outpatient:
        return "No vital signs on record before the index time."
    lines = []
    if charted:
        lines.append("Charted vital signs (latest value; range over all readings):")
        for itemid, last, unit, when, low, high, count in sorted(
            charted, key=lambda r: items.index(r[0])
        ):
            name = VITAL_ITEMS[int(itemid)]
            lines.append(
                f"  {name}: {_number(last)} {unit or ''} at {_when(when)} "
                f"(range {_number(low)}-{_number(high)} over {count} readings)"
            )
    if outpatient:
        lines.append("Outpatient measurements (latest):")
        lines += [f"  {name}: {value} ({_day(when)})" for name, value, when in outpatient]
    return "\n".join(lines)
