"""The EHR database schema: MIMIC-IV's `hosp` and `icu` tables that clinsim uses, typed.

Both the MIMIC-IV importer and the synthetic generator write exactly these tables, so every
consumer (the sealed per-patient view, the scenario builder) can rely on the same names and types.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TableSpec:
    name: str
    module: str  # "hosp" or "icu": where MIMIC-IV ships the CSV
    columns: tuple[tuple[str, str], ...]
    sort_by: tuple[str, ...] = ()
    required: bool = False

    @property
    def column_types(self) -> dict[str, str]:
        return dict(self.columns)

    def ddl(self) -> str:
        cols = ", ".join(f"{name} {typ}" for name, typ in self.columns)
        return f"CREATE TABLE {self.name} ({cols})"


_TS = "TIMESTAMP"

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "patients",
        "hosp",
        (
            ("subject_id", "BIGINT"),
            ("gender", "VARCHAR"),
            ("anchor_age", "INTEGER"),
            ("anchor_year", "INTEGER"),
            ("anchor_year_group", "VARCHAR"),
            ("dod", "DATE"),
        ),
        ("subject_id",),
        required=True,
    ),
    TableSpec(
        "admissions",
        "hosp",
        (
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("admittime", _TS),
            ("dischtime", _TS),
            ("deathtime", _TS),
            ("admission_type", "VARCHAR"),
            ("admit_provider_id", "VARCHAR"),
            ("admission_location", "VARCHAR"),
            ("discharge_location", "VARCHAR"),
            ("insurance", "VARCHAR"),
            ("language", "VARCHAR"),
            ("marital_status", "VARCHAR"),
            ("race", "VARCHAR"),
            ("edregtime", _TS),
            ("edouttime", _TS),
            ("hospital_expire_flag", "INTEGER"),
        ),
        ("subject_id", "admittime"),
        required=True,
    ),
    TableSpec(
        "diagnoses_icd",
        "hosp",
        (
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("seq_num", "INTEGER"),
            ("icd_code", "VARCHAR"),
            ("icd_version", "INTEGER"),
        ),
        ("subject_id", "hadm_id", "seq_num"),
    ),
    TableSpec(
        "d_icd_diagnoses",
        "hosp",
        (("icd_code", "VARCHAR"), ("icd_version", "INTEGER"), ("long_title", "VARCHAR")),
    ),
    TableSpec(
        "procedures_icd",
        "hosp",
        (
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("seq_num", "INTEGER"),
            ("chartdate", "DATE"),
            ("icd_code", "VARCHAR"),
            ("icd_version", "INTEGER"),
        ),
        ("subject_id", "chartdate"),
    ),
    TableSpec(
        "d_icd_procedures",
        "hosp",
        (("icd_code", "VARCHAR"), ("icd_version", "INTEGER"), ("long_title", "VARCHAR")),
    ),
    TableSpec(
        "drgcodes",
        "hosp",
        (
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("drg_type", "VARCHAR"),
            ("drg_code", "VARCHAR"),
            ("description", "VARCHAR"),
            ("drg_severity", "INTEGER"),
            ("drg_mortality", "INTEGER"),
        ),
        ("subject_id", "hadm_id"),
    ),
    TableSpec(
        "labevents",
        "hosp",
        (
            ("labevent_id", "BIGINT"),
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("specimen_id", "BIGINT"),
            ("itemid", "INTEGER"),
            ("order_provider_id", "VARCHAR"),
            ("charttime", _TS),
            ("storetime", _TS),
            ("value", "VARCHAR"),
            ("valuenum", "DOUBLE"),
            ("valueuom", "VARCHAR"),
            ("ref_range_lower", "DOUBLE"),
            ("ref_range_upper", "DOUBLE"),
            ("flag", "VARCHAR"),
            ("priority", "VARCHAR"),
            ("comments", "VARCHAR"),
        ),
        ("subject_id", "charttime"),
    ),
    TableSpec(
        "d_labitems",
        "hosp",
        (
            ("itemid", "INTEGER"),
            ("label", "VARCHAR"),
            ("fluid", "VARCHAR"),
            ("category", "VARCHAR"),
        ),
    ),
    TableSpec(
        "microbiologyevents",
        "hosp",
        (
            ("microevent_id", "BIGINT"),
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("micro_specimen_id", "BIGINT"),
            ("order_provider_id", "VARCHAR"),
            ("chartdate", _TS),
            ("charttime", _TS),
            ("spec_itemid", "INTEGER"),
            ("spec_type_desc", "VARCHAR"),
            ("test_seq", "INTEGER"),
            ("storedate", _TS),
            ("storetime", _TS),
            ("test_itemid", "INTEGER"),
            ("test_name", "VARCHAR"),
            ("org_itemid", "INTEGER"),
            ("org_name", "VARCHAR"),
            ("isolate_num", "INTEGER"),
            ("quantity", "VARCHAR"),
            ("ab_itemid", "INTEGER"),
            ("ab_name", "VARCHAR"),
            ("dilution_text", "VARCHAR"),
            ("dilution_comparison", "VARCHAR"),
            ("dilution_value", "DOUBLE"),
            ("interpretation", "VARCHAR"),
            ("comments", "VARCHAR"),
        ),
        ("subject_id", "chartdate"),
    ),
    TableSpec(
        "prescriptions",
        "hosp",
        (
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("pharmacy_id", "BIGINT"),
            ("poe_id", "VARCHAR"),
            ("poe_seq", "INTEGER"),
            ("order_provider_id", "VARCHAR"),
            ("starttime", _TS),
            ("stoptime", _TS),
            ("drug_type", "VARCHAR"),
            ("drug", "VARCHAR"),
            ("formulary_drug_cd", "VARCHAR"),
            ("gsn", "VARCHAR"),
            ("ndc", "VARCHAR"),
            ("prod_strength", "VARCHAR"),
            ("form_rx", "VARCHAR"),
            ("dose_val_rx", "VARCHAR"),
            ("dose_unit_rx", "VARCHAR"),
            ("form_val_disp", "VARCHAR"),
            ("form_unit_disp", "VARCHAR"),
            ("doses_per_24_hrs", "DOUBLE"),
            ("route", "VARCHAR"),
        ),
        ("subject_id", "starttime"),
    ),
    TableSpec(
        "omr",
        "hosp",
        (
            ("subject_id", "BIGINT"),
            ("chartdate", "DATE"),
            ("seq_num", "INTEGER"),
            ("result_name", "VARCHAR"),
            ("result_value", "VARCHAR"),
        ),
        ("subject_id", "chartdate"),
    ),
    TableSpec(
        "icustays",
        "icu",
        (
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("stay_id", "BIGINT"),
            ("first_careunit", "VARCHAR"),
            ("last_careunit", "VARCHAR"),
            ("intime", _TS),
            ("outtime", _TS),
            ("los", "DOUBLE"),
        ),
        ("subject_id", "intime"),
    ),
    TableSpec(
        "chartevents",
        "icu",
        (
            ("subject_id", "BIGINT"),
            ("hadm_id", "BIGINT"),
            ("stay_id", "BIGINT"),
            ("caregiver_id", "BIGINT"),
            ("charttime", _TS),
            ("storetime", _TS),
            ("itemid", "INTEGER"),
            ("value", "VARCHAR"),
            ("valuenum", "DOUBLE"),
            ("valueuom", "VARCHAR"),
            ("warning", "INTEGER"),
        ),
        ("subject_id", "charttime"),
    ),
    TableSpec(
        "d_items",
        "icu",
        (
            ("itemid", "INTEGER"),
            ("label", "VARCHAR"),
            ("abbreviation", "VARCHAR"),
            ("linksto", "VARCHAR"),
            ("category", "VARCHAR"),
            ("unitname", "VARCHAR"),
            ("param_type", "VARCHAR"),
            ("lownormalvalue", "DOUBLE"),
            ("highnormalvalue", "DOUBLE"),
        ),
    ),
)

TABLE_BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}

# Chart-event items that the vitals tool and the scenario builder read (MIMIC-IV `d_items` ids).
VITAL_ITEMS: dict[int, str] = {
    220045: "Heart rate",
    220179: "Systolic BP (non-invasive)",
    220180: "Diastolic BP (non-invasive)",
    220181: "Mean BP (non-invasive)",
    220050: "Systolic BP (arterial)",
    220051: "Diastolic BP (arterial)",
    220210: "Respiratory rate",
    220277: "SpO2",
    223761: "Temperature (F)",
    223762: "Temperature (C)",
    226512: "Weight on admission (kg)",
}


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table (empty) plus the `ehr_metadata` key/value table."""
    for table in TABLES:
        con.execute(table.ddl())
    con.execute("CREATE TABLE ehr_metadata (key VARCHAR, value VARCHAR)")


def write_metadata(con: duckdb.DuckDBPyConnection, values: dict[str, str]) -> None:
    rows = [("schema_version", str(SCHEMA_VERSION)), *values.items()]
    con.executemany("INSERT INTO ehr_metadata VALUES (?, ?)", rows)
