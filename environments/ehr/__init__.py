"""The longitudinal EHR: a DuckDB file in MIMIC-IV's schema, imported or synthetic.

The names below load their modules on first use, so that reading the schema (the EHR tools do,
in every run) does not import DuckDB's importer or the synthesiser.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "SCHEMA_VERSION": "clinsim.environments.ehr.schema",
    "TABLES": "clinsim.environments.ehr.schema",
    "EHRImportError": "clinsim.environments.ehr.mimic_import",
    "ImportReport": "clinsim.environments.ehr.mimic_import",
    "build_from_mimic": "clinsim.environments.ehr.mimic_import",
    "build_synthetic": "clinsim.environments.ehr.synth",
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
