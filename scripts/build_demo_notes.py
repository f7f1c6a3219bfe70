"""Write the synthetic MIMIC-IV-Note files bundled with clinsim from their readable sources.

Each file in scenarios/data/mimic-iv-demo-notes/source/ is one note: `column: value` lines for
note_id, subject_id, hadm_id, note_type, note_seq, charttime and storetime, a line `---`, then
the note text. Discharge summaries (note_type DS, AD) go to note/discharge.csv.gz, radiology
reports (RR, AR) to note/radiology.csv.gz, with MIMIC-IV-Note's columns in its order. The gzip
header carries no time stamp, so the same sources always give the same bytes.

    .venv/bin/python scripts/build_demo_notes.py
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "scenarios" / "data" / "mimic-iv-demo-notes"
COLUMNS = (
    "note_id",
    "subject_id",
    "hadm_id",
    "note_type",
    "note_seq",
    "charttime",
    "storetime",
    "text",
)
FILES = {"DS": "discharge", "AD": "discharge", "RR": "radiology", "AR": "radiology"}


def read_source(path: Path) -> dict[str, str]:
    head, separator, text = path.read_text(encoding="utf-8").partition("\n---\n")
    if not separator:
        raise SystemExit(f"{path}: no '---' line between the header and the text")
    row = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        row[key.strip()] = value.strip()
    missing = [c for c in COLUMNS[:-1] if c not in row]
    if missing:
        raise SystemExit(f"{path}: header lacks {', '.join(missing)}")
    row["text"] = text
    return row


def csv_gz(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row[c] for c in COLUMNS])
    return gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0)


def build(notes: Path = NOTES) -> dict[Path, bytes]:
    """The bundled files' bytes, by path."""
    rows = [read_source(p) for p in sorted((notes / "source").glob("*.txt"))]
    out: dict[Path, bytes] = {}
    for name in sorted(set(FILES.values())):
        chosen = [r for r in rows if FILES[r["note_type"]] == name]
        chosen.sort(key=lambda r: (int(r["subject_id"]), r["note_type"], int(r["note_seq"])))
        out[notes / "note" / f"{name}.csv.gz"] = csv_gz(chosen)
    return out


def main() -> int:
    for path, data in build().items():
        path.write_bytes(data)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
