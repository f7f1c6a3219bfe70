"""Import MIMIC-IV (`hosp` + `icu` CSV or CSV.gz, the v2.2+ layout) into a typed DuckDB file.

Large event tables are written sorted by (subject_id, time) so that one patient's rows sit
together and DuckDB's zone maps make per-patient reads cheap. Where `icu/chartevents` is missing
(the open demo ships without it), chart events can come from a MEDS-format parquet file of the
same patients. Missing optional tables are reported; a malformed file raises `EHRImportError`
naming the file and, where DuckDB reports it, the line.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from clinsim.environments.ehr.schema import TABLES, TableSpec, create_schema, write_metadata
from clinsim.environments.ehr.staging import staged


class EHRImportError(Exception):
    """A MIMIC-IV input that cannot be imported (names the file and, when known, the line)."""


@dataclass
class ImportReport:
    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"wrote {self.out}"]
        lines += [f"  {name}: {count:,} rows" for name, count in self.rows.items()]
        if self.missing:
            lines.append("  missing optional tables (left empty): " + ", ".join(self.missing))
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def find_table_file(mimic_dir: Path, table: TableSpec) -> Path | None:
    """`<dir>/<module>/<table>.csv.gz` or `.csv` (also accepted directly under `<dir>`)."""
    for folder in (mimic_dir / table.module, mimic_dir):
        for suffix in (".csv.gz", ".csv"):
            candidate = folder / f"{table.name}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def find_meds_parquet(mimic_dir: Path) -> Path | None:
    """A MEDS event parquet next to the MIMIC folder: `<dir>/meds/*.parquet` or
    `<dir>-meds/*.parquet` (the layout of the shared demo data)."""
    for folder in (mimic_dir / "meds", mimic_dir.with_name(mimic_dir.name + "-meds")):
        if folder.is_dir():
            found = sorted(folder.glob("*.parquet"))
            if found:
                return found[0]
    return None


def _read_header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            header = handle.readline().strip()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise EHRImportError(f"{path}: line 1: cannot read the header: {exc}") from exc
    if not header:
        raise EHRImportError(f"{path}: line 1: empty file (expected a CSV header row)")
    return [name.strip().strip('"').lower() for name in header.split(",")]


def _load_csv(con: duckdb.DuckDBPyConnection, table: TableSpec, path: Path) -> int:
    header = _read_header(path)
    types = table.column_types
    known = [name for name in header if name in types]
    key = "subject_id" if "subject_id" in types else table.columns[0][0]
    if key not in header:
        raise EHRImportError(f"{path}: line 1: header has no {key!r} column (found: {header})")
    columns = {name: types.get(name, "VARCHAR") for name in header}
    order = f" ORDER BY {', '.join(table.sort_by)}" if table.sort_by else ""
    select = ", ".join(known)
    sql = (
        f"INSERT INTO {table.name} BY NAME SELECT {select} FROM read_csv(?, header = true, "
        f"auto_detect = false, columns = ?, quote = '\"', escape = '\"', strict_mode = true)"
        f"{order}"
    )
    try:
        con.execute(sql, [str(path), columns])
    except duckdb.Error as exc:
        raise EHRImportError(_describe(path, exc)) from exc
    return _count(con, table.name)


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def _describe(path: Path, exc: duckdb.Error) -> str:
    """'<file>: line N: <reason>' from DuckDB's multi-line CSV error."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    match = _CSV_LINE.search(lines[0]) if lines else None
    if match is None:
        return f"{path}: " + " | ".join(lines[:4])
    reasons = [
        line
        for line in lines[1:]
        if not line.startswith(("Original Line", "Possible", "*", "This type", "Column "))
    ]
    return f"{path}: line {match.group(1)}: " + " ".join(reasons[:2])


def _count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
    return int(row[0]) if row else 0


_MEDS_CHART_SQL = """
INSERT INTO chartevents (subject_id, hadm_id, stay_id, charttime, itemid, value, valuenum, valueuom)
WITH ev AS (
    SELECT subject_id::BIGINT AS subject_id, "time" AS charttime,
           TRY_CAST(split_part(code, '//', 2) AS INTEGER) AS itemid,
           NULLIF(split_part(code, '//', 3), 'UNK') AS valueuom, value::DOUBLE AS valuenum
    FROM read_parquet(?)
    WHERE code LIKE 'LAB//%' AND value IS NOT NULL
)
SELECT ev.subject_id, s.hadm_id, s.stay_id, ev.charttime, ev.itemid,
       CAST(ev.valuenum AS VARCHAR), ev.valuenum, ev.valueuom
FROM ev
LEFT JOIN icustays s
  ON s.subject_id = ev.subject_id AND ev.charttime BETWEEN s.intime AND s.outtime
WHERE ev.itemid >= 220000
ORDER BY ev.subject_id, ev.charttime
"""


def _load_meds_chartevents(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    try:
        con.execute(_MEDS_CHART_SQL, [str(path)])
    except duckdb.Error as exc:
        raise EHRImportError(_describe(path, exc)) from exc
    return _count(con, "chartevents")


def build_from_mimic(
    mimic_dir: Path, out: Path, meds_parquet: Path | None = None, source: str = "MIMIC-IV"
) -> ImportReport:
    """Import a MIMIC-IV folder into a new DuckDB file at `out` (replaced atomically)."""
    mimic_dir = Path(mimic_dir)
    if not mimic_dir.is_dir():
        raise EHRImportError(f"{mimic_dir}: not a folder (expected MIMIC-IV's hosp/ and icu/)")
    report = ImportReport(Path(out))
    with staged(Path(out)) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            _import_tables(con, mimic_dir, meds_parquet, report)
            write_metadata(
                con,
                {
                    "source": source,
                    "mimic_dir": str(mimic_dir),
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return report


def _import_tables(
    con: duckdb.DuckDBPyConnection,
    mimic_dir: Path,
    meds_parquet: Path | None,
    report: ImportReport,
) -> None:
    create_schema(con)
    for table in TABLES:
        path = find_table_file(mimic_dir, table)
        if path is not None:
            report.rows[table.name] = _load_csv(con, table, path)
            continue
        if table.required:
            raise EHRImportError(
                f"{mimic_dir}: required table {table.module}/{table.name}.csv(.gz) is missing"
            )
        if table.name == "chartevents":
            meds = meds_parquet or find_meds_parquet(mimic_dir)
            if meds is not None:
                report.rows[table.name] = _load_meds_chartevents(con, meds)
                report.notes.append(f"chartevents taken from MEDS events in {meds}")
                continue
        report.missing.append(f"{table.module}/{table.name}")
