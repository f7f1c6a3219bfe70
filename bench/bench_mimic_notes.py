"""How fast `build-mimic --notes` reads MIMIC-IV-Note discharge summaries.

    python bench/bench_mimic_notes.py [--copies 2000] [--parses 200]

The builder reads the discharge file twice: a first pass reads and checks every row (CSV,
types, admission) and picks each admission's note; a second pass reads the file again and
parses the notes of the admissions being built. This writes a notes file of the bundled
synthetic discharge summaries repeated `--copies` times (distinct note ids, the same ten
admissions) and times one pass over it (`index_notes`), then times parsing (`read_story`) of
the ten summaries, each `--parses` times. It prints both rates and, from them, the time of a
full build's note reading for MIMIC-IV-Note v2.2's 331,793 discharge summaries if they average
10,000 characters (an assumption, not a measurement of the real file). The machine is shared:
repeat a run and compare figures taken together.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

from clinsim.environments.ehr.demo import demo_ehr_path
from clinsim.scenarios.mimic_note_cases import index_notes
from clinsim.scenarios.mimic_note_files import NOTE_COLUMNS, Admission, Note
from clinsim.scenarios.mimic_notes import read_story
from clinsim.scenarios.sets import demo_notes_dir

MIMIC_IV_NOTE_DISCHARGE = 331_793
ASSUMED_CHARS = 10_000
WHEN = datetime(2100, 1, 1)


def source_rows() -> list[dict[str, str]]:
    path = demo_notes_dir() / "note" / "discharge.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_copies(out: Path, rows: list[dict[str, str]], copies: int) -> int:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, NOTE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    chars = 0
    for copy in range(copies):
        for row in rows:
            seq = int(row["note_seq"]) + 100 * (copy + 1)
            writer.writerow(
                {**row, "note_seq": str(seq), "note_id": f"{row['subject_id']}-DS-{seq}"}
            )
            chars += len(row["text"])
    (out / "note").mkdir(parents=True)
    (out / "note" / "discharge.csv.gz").write_bytes(gzip.compress(buffer.getvalue().encode()))
    return chars


def admissions() -> dict[int, Admission]:
    with duckdb.connect(str(demo_ehr_path()), read_only=True) as con:
        rows = con.execute("SELECT hadm_id, subject_id, admittime FROM admissions").fetchall()
    return {int(h): Admission(int(s), t, 60) for h, s, t in rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=2000)
    parser.add_argument("--parses", type=int, default=200)
    args = parser.parse_args()
    rows = source_rows()
    known = admissions()
    with tempfile.TemporaryDirectory() as tmp:
        chars = write_copies(Path(tmp), rows, args.copies)
        start = time.perf_counter()
        index = index_notes(Path(tmp), known)
        read_seconds = time.perf_counter() - start
    assert len(index.chosen) == len(rows) and not index.read.problems
    notes = [
        Note(
            "bench",
            n,
            r["note_id"],
            int(r["subject_id"]),
            int(r["hadm_id"]),
            "DS",
            1,
            WHEN,
            r["text"],
        )
        for n, r in enumerate(rows, start=1)
    ]
    start = time.perf_counter()
    for _ in range(args.parses):
        for note in notes:
            read_story(note, 60)
    parse_seconds = time.perf_counter() - start
    parsed_chars = args.parses * sum(len(r["text"]) for r in rows)
    read_rate = chars / read_seconds
    parse_rate = parsed_chars / parse_seconds
    print(
        f"one pass over {args.copies * len(rows)} notes ({chars / 1e6:.1f} MB of text): "
        f"{read_seconds:.2f} s, {read_rate / 1e6:.2f} MB/s"
    )
    each = parse_seconds / args.parses / len(rows) * 1e3
    print(
        f"parsing {args.parses * len(rows)} notes: {parse_seconds:.2f} s, "
        f"{parse_rate / 1e6:.2f} MB/s, {each:.2f} ms a note"
    )
    total = MIMIC_IV_NOTE_DISCHARGE * ASSUMED_CHARS
    full = 2 * total / read_rate + total / parse_rate
    print(
        f"{MIMIC_IV_NOTE_DISCHARGE} notes of {ASSUMED_CHARS} chars: two passes and every note "
        f"parsed {full / 60:.1f} min; with --limit (two passes, little parsing) "
        f"{2 * total / read_rate / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
