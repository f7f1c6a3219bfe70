"""EHR tools: a sealed per-patient, as-of-time view of the EHR and the tools that read it.

The tools (`query_ehr`, `get_patient_summary`, `get_lab_history`, `get_latest_labs`,
`get_medications`, `get_prior_diagnoses`, `get_microbiology`, `get_vitals`) are in `tools`.
"""

from clinsim.tools.ehr.sealed import EHRQueryError, QueryLimits, QueryResult, SealedEHR

__all__ = ["EHRQueryError", "QueryLimits", "QueryResult", "SealedEHR"]
