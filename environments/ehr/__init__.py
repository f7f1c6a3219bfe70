"""The longitudinal EHR: a DuckDB file in MIMIC-IV's schema, imported or synthetic."""

from clinsim.environments.ehr.mimic_import import EHRImportError, ImportReport, build_from_mimic
from clinsim.environments.ehr.schema import SCHEMA_VERSION, TABLES
from clinsim.environments.ehr.synth import build_synthetic

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "EHRImportError",
    "ImportReport",
    "build_from_mimic",
    "build_synthetic",
]
