"""A synthetic EHR with the MIMIC-IV schema, for scale work (benchmarks, load tests).

Everything is drawn with numpy from one seeded generator and bulk-inserted through Arrow, so the
same seed gives the same database and 50,000 patients (about 10 million lab events) build in
well under a minute. Rows are generated already ordered by (subject_id, time). The data are
plausible in shape only: values, codes and drugs are random draws, not clinical truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from clinsim.environments.ehr.schema import create_schema, write_metadata
from clinsim.environments.ehr.staging import staged

SUBJECT_BASE = 90_000_000
HADM_BASE = 50_000_000

# (itemid, label, category, unit, mean, sd, ref low, ref high): MIMIC-IV d_labitems ids.
LAB_PANEL: tuple[tuple[int, str, str, str, float, float, float, float], ...] = (
    (50983, "Sodium", "Chemistry", "mEq/L", 139, 4, 133, 145),
    (50971, "Potassium", "Chemistry", "mEq/L", 4.2, 0.5, 3.3, 5.1),
    (50902, "Chloride", "Chemistry", "mEq/L", 102, 4, 96, 108),
    (50882, "Bicarbonate", "Chemistry", "mEq/L", 25, 3, 22, 32),
    (51006, "Urea Nitrogen", "Chemistry", "mg/dL", 20, 10, 6, 20),
    (50912, "Creatinine", "Chemistry", "mg/dL", 1.1, 0.5, 0.5, 1.2),
    (50931, "Glucose", "Chemistry", "mg/dL", 120, 35, 70, 100),
    (50868, "Anion Gap", "Chemistry", "mEq/L", 14, 3, 8, 20),
    (50960, "Magnesium", "Chemistry", "mg/dL", 2.0, 0.3, 1.6, 2.6),
    (50893, "Calcium, Total", "Chemistry", "mg/dL", 9.0, 0.6, 8.4, 10.3),
    (51222, "Hemoglobin", "Hematology", "g/dL", 12, 2, 12, 16),
    (51221, "Hematocrit", "Hematology", "%", 36, 5, 36, 48),
    (51301, "White Blood Cells", "Hematology", "K/uL", 9, 4, 4, 11),
    (51265, "Platelet Count", "Hematology", "K/uL", 240, 80, 150, 440),
    (51248, "MCH", "Hematology", "pg", 30, 2, 27, 32),
    (51250, "MCV", "Hematology", "fL", 90, 6, 80, 100),
)

DIAGNOSES: tuple[tuple[str, str], ...] = (
    ("I10", "Essential (primary) hypertension"),
    ("E119", "Type 2 diabetes mellitus without complications"),
    ("I5032", "Chronic diastolic (congestive) heart failure"),
    ("J189", "Pneumonia, unspecified organism"),
    ("N179", "Acute kidney failure, unspecified"),
    ("A419", "Sepsis, unspecified organism"),
    ("I214", "Non-ST elevation (NSTEMI) myocardial infarction"),
    ("J441", "Chronic obstructive pulmonary disease with (acute) exacerbation"),
    ("N390", "Urinary tract infection, site not specified"),
    ("K8590", "Acute pancreatitis without necrosis or infection, unspecified"),
    ("I4891", "Unspecified atrial fibrillation"),
    ("E871", "Hypo-osmolality and hyponatremia"),
    ("D649", "Anemia, unspecified"),
    ("F329", "Major depressive disorder, single episode, unspecified"),
    ("E785", "Hyperlipidemia, unspecified"),
    ("K922", "Gastrointestinal hemorrhage, unspecified"),
)

DRUGS: tuple[tuple[str, str, str, str], ...] = (
    ("Metoprolol Tartrate", "25", "mg", "PO"),
    ("Lisinopril", "10", "mg", "PO"),
    ("Metformin", "500", "mg", "PO"),
    ("Atorvastatin", "40", "mg", "PO"),
    ("Heparin", "5000", "UNIT", "SC"),
    ("Furosemide", "40", "mg", "IV"),
    ("Ceftriaxone", "1", "g", "IV"),
    ("Vancomycin", "1000", "mg", "IV"),
    ("Pantoprazole", "40", "mg", "PO"),
    ("Acetaminophen", "650", "mg", "PO"),
    ("Insulin", "4", "UNIT", "SC"),
    ("Aspirin", "81", "mg", "PO"),
)

# (itemid, label, unit, mean, sd) for chart events (MIMIC-IV d_items ids).
VITALS: tuple[tuple[int, str, str, float, float], ...] = (
    (220045, "Heart Rate", "bpm", 85, 15),
    (220179, "Non Invasive Blood Pressure systolic", "mmHg", 125, 18),
    (220180, "Non Invasive Blood Pressure diastolic", "mmHg", 70, 10),
    (220210, "Respiratory Rate", "insp/min", 18, 4),
    (220277, "O2 saturation pulseoxymetry", "%", 96, 2),
    (223761, "Temperature Fahrenheit", "°F", 98.4, 0.9),
)

ORGANISMS = ("ESCHERICHIA COLI", "STAPHYLOCOCCUS AUREUS", "KLEBSIELLA PNEUMONIAE", None, None, None)


@dataclass
class Cohort:
    """Patient- and admission-level draws every event table hangs from."""

    subject: np.ndarray  # per patient
    adm_subject: np.ndarray  # per admission
    admit: np.ndarray  # datetime64[s]
    disch: np.ndarray
    los_h: np.ndarray


def _group_index(counts: np.ndarray) -> np.ndarray:
    """0..k-1 within each consecutive group of the given sizes."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    index: np.ndarray = np.arange(int(counts.sum())) - starts
    return index


def _make_cohort(rng: np.random.Generator, n: int) -> tuple[Cohort, pa.Table]:
    subject = SUBJECT_BASE + np.arange(n, dtype=np.int64)
    anchor_year = rng.integers(2110, 2190, n)
    anchor_age = rng.integers(18, 91, n)
    patients = pa.table(
        {
            "subject_id": subject,
            "gender": rng.choice(np.array(["F", "M"]), n),
            "anchor_age": anchor_age.astype(np.int32),
            "anchor_year": anchor_year.astype(np.int32),
        }
    )
    n_adm = np.minimum(1 + rng.poisson(1.5, n), 6)
    adm_subject = np.repeat(subject, n_adm)
    los_h = rng.gamma(2.0, 60.0, len(adm_subject)).astype(np.int64) + 6
    gaps_h = los_h + rng.integers(30 * 24, 500 * 24, len(adm_subject))
    first = (anchor_year - 1970).astype("datetime64[Y]").astype("datetime64[s]")
    first = first + (rng.integers(0, 365 * 24 * 3600, n)).astype("timedelta64[s]")
    starts = np.cumsum(n_adm) - n_adm
    before = np.cumsum(gaps_h) - gaps_h  # hours of earlier gaps, over all admissions
    offset_h = before - np.repeat(before[starts], n_adm)  # ... within the patient
    admit = np.repeat(first, n_adm) + (offset_h * 3600).astype("timedelta64[s]")
    disch = admit + (los_h * 3600).astype("timedelta64[s]")
    return Cohort(subject, adm_subject, admit, disch, los_h), patients


def _admission_tables(rng: np.random.Generator, c: Cohort) -> dict[str, pa.Table]:
    m = len(c.adm_subject)
    hadm = HADM_BASE + np.arange(m, dtype=np.int64)
    admissions = pa.table(
        {
            "subject_id": c.adm_subject,
            "hadm_id": hadm,
            "admittime": c.admit,
            "dischtime": c.disch,
            "admission_type": rng.choice(np.array(["EW EMER.", "URGENT", "ELECTIVE"]), m),
            "admission_location": rng.choice(
                np.array(["EMERGENCY ROOM", "PHYSICIAN REFERRAL", "TRANSFER FROM HOSPITAL"]), m
            ),
            "discharge_location": rng.choice(np.array(["HOME", "HOME HEALTH CARE", "SNF"]), m),
            "hospital_expire_flag": np.zeros(m, dtype=np.int32),
        }
    )
    n_dx = rng.integers(2, 7, m)
    codes = np.array([code for code, _ in DIAGNOSES])
    diagnoses = pa.table(
        {
            "subject_id": np.repeat(c.adm_subject, n_dx),
            "hadm_id": np.repeat(hadm, n_dx),
            "seq_num": (_group_index(n_dx) + 1).astype(np.int32),
            "icd_code": rng.choice(codes, int(n_dx.sum())),
            "icd_version": np.full(int(n_dx.sum()), 10, dtype=np.int32),
        }
    )
    drg = pa.table(
        {
            "subject_id": c.adm_subject,
            "hadm_id": hadm,
            "drg_type": np.full(m, "HCFA"),
            "drg_code": rng.integers(1, 999, m).astype(str),
            "description": np.full(m, "SYNTHETIC DRG"),
        }
    )
    return {"admissions": admissions, "diagnoses_icd": diagnoses, "drgcodes": drg}


def _lab_table(rng: np.random.Generator, c: Cohort) -> pa.Table:
    """Daily-ish panels of LAB_PANEL items through each admission, in time order."""
    hadm = HADM_BASE + np.arange(len(c.adm_subject), dtype=np.int64)
    n_draw = 1 + rng.poisson(np.maximum(c.los_h / 30.0, 0.5))
    draw_adm = np.repeat(np.arange(len(hadm)), n_draw)
    j = _group_index(n_draw)
    frac = (j + rng.uniform(0.0, 0.9, len(j))) / np.repeat(n_draw, n_draw)
    draw_time = c.admit[draw_adm] + (frac * c.los_h[draw_adm] * 3600).astype("timedelta64[s]")
    k = len(LAB_PANEL)
    rows = len(draw_adm) * k
    item = np.tile(np.arange(k), len(draw_adm))
    mean = np.array([p[4] for p in LAB_PANEL])[item]
    sd = np.array([p[5] for p in LAB_PANEL])[item]
    value = np.round(np.abs(mean + sd * rng.standard_normal(rows)), 2)
    low = np.array([p[6] for p in LAB_PANEL])[item]
    high = np.array([p[7] for p in LAB_PANEL])[item]
    charttime = np.repeat(draw_time, k)
    return pa.table(
        {
            "labevent_id": np.arange(rows, dtype=np.int64) + 1,
            "subject_id": np.repeat(c.adm_subject[draw_adm], k),
            "hadm_id": np.repeat(hadm[draw_adm], k),
            "specimen_id": np.repeat(np.arange(len(draw_adm), dtype=np.int64), k) + 1,
            "itemid": np.array([p[0] for p in LAB_PANEL], dtype=np.int32)[item],
            "charttime": charttime,
            "storetime": charttime + np.timedelta64(2, "h"),
            "valuenum": value,
            "valueuom": np.array([p[3] for p in LAB_PANEL])[item],
            "ref_range_lower": low,
            "ref_range_upper": high,
            "flag": pa.array(np.full(rows, "abnormal"), mask=(value >= low) & (value <= high)),
            "priority": np.full(rows, "ROUTINE"),
        }
    )


def _chart_table(rng: np.random.Generator, c: Cohort) -> pa.Table:
    """Two sets of vital signs per admission: on arrival and half-way through."""
    hadm = HADM_BASE + np.arange(len(c.adm_subject), dtype=np.int64)
    sets = np.repeat(np.arange(len(hadm)), 2)
    frac = np.tile(np.array([0.0, 0.5]), len(hadm))
    times = c.admit[sets] + (frac * c.los_h[sets] * 3600).astype("timedelta64[s]")
    times = times + np.timedelta64(30, "m")
    k = len(VITALS)
    item = np.tile(np.arange(k), len(sets))
    mean = np.array([v[3] for v in VITALS])[item]
    sd = np.array([v[4] for v in VITALS])[item]
    value = np.round(mean + sd * rng.standard_normal(len(item)), 1)
    return pa.table(
        {
            "subject_id": np.repeat(c.adm_subject[sets], k),
            "hadm_id": np.repeat(hadm[sets], k),
            "charttime": np.repeat(times, k),
            "itemid": np.array([v[0] for v in VITALS], dtype=np.int32)[item],
            "valuenum": value,
            "valueuom": np.array([v[2] for v in VITALS])[item],
        }
    )


def _order_tables(rng: np.random.Generator, c: Cohort) -> dict[str, pa.Table]:
    """Three prescriptions per admission and a blood culture for about a third of them."""
    m = len(c.adm_subject)
    hadm = HADM_BASE + np.arange(m, dtype=np.int64)
    rx = np.repeat(np.arange(m), 3)
    drug = rng.integers(0, len(DRUGS), len(rx))
    prescriptions = pa.table(
        {
            "subject_id": c.adm_subject[rx],
            "hadm_id": hadm[rx],
            "starttime": c.admit[rx] + np.timedelta64(1, "h"),
            "stoptime": c.disch[rx],
            "drug_type": np.full(len(rx), "MAIN"),
            "drug": np.array([d[0] for d in DRUGS])[drug],
            "dose_val_rx": np.array([d[1] for d in DRUGS])[drug],
            "dose_unit_rx": np.array([d[2] for d in DRUGS])[drug],
            "route": np.array([d[3] for d in DRUGS])[drug],
        }
    )
    cult = np.flatnonzero(rng.random(m) < 0.33)
    organism = rng.choice(np.array(ORGANISMS, dtype=object), len(cult))
    grew = np.array([name is not None for name in organism], dtype=bool)
    taken = c.admit[cult] + np.timedelta64(1, "h")
    micro = pa.table(
        {
            "microevent_id": np.arange(len(cult), dtype=np.int64) + 1,
            "subject_id": c.adm_subject[cult],
            "hadm_id": hadm[cult],
            "micro_specimen_id": np.arange(len(cult), dtype=np.int64) + 1,
            "chartdate": taken.astype("datetime64[D]").astype("datetime64[s]"),
            "charttime": taken,
            "spec_type_desc": np.full(len(cult), "BLOOD CULTURE"),
            "storetime": taken + np.timedelta64(48, "h"),
            "test_name": np.full(len(cult), "Blood Culture, Routine"),
            "org_name": organism,
            "comments": pa.array(np.full(len(cult), "NO GROWTH."), mask=grew),
        }
    )
    return {"prescriptions": prescriptions, "microbiologyevents": micro}


def _dictionaries() -> dict[str, pa.Table]:
    return {
        "d_labitems": pa.table(
            {
                "itemid": np.array([p[0] for p in LAB_PANEL], dtype=np.int32),
                "label": [p[1] for p in LAB_PANEL],
                "fluid": ["Blood"] * len(LAB_PANEL),
                "category": [p[2] for p in LAB_PANEL],
            }
        ),
        "d_items": pa.table(
            {
                "itemid": np.array([v[0] for v in VITALS], dtype=np.int32),
                "label": [v[1] for v in VITALS],
                "linksto": ["chartevents"] * len(VITALS),
                "category": ["Routine Vital Signs"] * len(VITALS),
                "unitname": [v[2] for v in VITALS],
            }
        ),
        "d_icd_diagnoses": pa.table(
            {
                "icd_code": [code for code, _ in DIAGNOSES],
                "icd_version": np.full(len(DIAGNOSES), 10, dtype=np.int32),
                "long_title": [title for _, title in DIAGNOSES],
            }
        ),
    }


def _insert(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register("synth_rows", table)
    try:
        numeric = name in ("labevents", "chartevents")
        extra = ", CAST(valuenum AS VARCHAR) AS value" if numeric else ""
        con.execute(f"INSERT INTO {name} BY NAME SELECT *{extra} FROM synth_rows")
    finally:
        con.unregister("synth_rows")


def build_synthetic(out: Path, patients: int, seed: int = 0) -> dict[str, int]:
    """Write a synthetic EHR with `patients` patients to `out` (replaced atomically);
    returns row counts per table."""
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    rng = np.random.default_rng(seed)
    cohort, patient_rows = _make_cohort(rng, patients)
    tables = {"patients": patient_rows, **_admission_tables(rng, cohort)}
    tables["labevents"] = _lab_table(rng, cohort)
    tables["chartevents"] = _chart_table(rng, cohort)
    tables.update(_order_tables(rng, cohort))
    tables.update(_dictionaries())
    with staged(Path(out)) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            create_schema(con)
            for name, table in tables.items():
                _insert(con, name, table)
            write_metadata(
                con,
                {
                    "source": f"synthetic (clinsim ehr synth, seed {seed}, {patients} patients)",
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return {name: table.num_rows for name, table in tables.items()}
