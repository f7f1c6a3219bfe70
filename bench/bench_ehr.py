"""EHR benchmark: a synthetic EHR (default 50,000 patients, about 10 million lab events), then
per-patient reads through the sealed as-of-time view.

Prints: build time; per-encounter sealing cost (copying one patient's permitted rows into a
locked in-memory database); median and p90 latency of one patient's full lab timeline and of
the latest value of each lab, run as agent SQL through `SealedEHR.query` (statement check, time
limit, row cap included).

    .venv/bin/python bench/bench_ehr.py [--patients 50000] [--samples 200] [--db PATH]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from clinsim.environments.ehr.synth import build_synthetic
from clinsim.tools.ehr.sealed import QueryLimits, SealedEHR

TIMELINE = (
    "SELECT l.charttime, d.label, l.valuenum, l.valueuom, l.flag FROM labevents l "
    "JOIN d_labitems d USING (itemid) ORDER BY l.charttime, d.label"
)
LATEST = (
    "SELECT d.label, l.valuenum, l.valueuom, l.charttime FROM labevents l "
    "JOIN d_labitems d USING (itemid) "
    "QUALIFY row_number() OVER (PARTITION BY l.itemid ORDER BY l.charttime DESC) = 1"
)


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered) * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms"


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _encounters(db: Path, samples: int, seed: int) -> list[tuple[int, object, int]]:
    """(subject, index time, index admission): each sampled patient's last admission."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT subject_id, arg_max(admittime, admittime), arg_max(hadm_id, admittime) "
            "FROM admissions GROUP BY subject_id ORDER BY subject_id"
        ).fetchall()
    return random.Random(seed).sample(rows, min(samples, len(rows)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", type=Path, help="reuse this synthetic EHR instead of building")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "synthetic.duckdb"
        if args.db is None or not db.exists():
            build_s = _timed(lambda: build_synthetic(db, args.patients, args.seed))
            print(f"build: {args.patients:,} patients in {build_s:.1f} s")
        with duckdb.connect(str(db), read_only=True) as con:
            labs = con.execute("SELECT count(*) FROM labevents").fetchone()
        print(
            f"lab events: {labs[0] if labs else 0:,}; database {db.stat().st_size / 2**20:.0f} MiB"
        )
        run_reads(db, _encounters(db, args.samples, args.seed))


def run_reads(db: Path, encounters: list[tuple[int, object, int]]) -> None:
    limits = QueryLimits(max_rows=100_000)
    SealedEHR.seal(db, *encounters[0], limits=limits).close()  # open the source file once
    seal, timeline, latest, rows = [], [], [], []
    for subject, index_time, hadm in encounters:
        start = time.perf_counter()
        view = SealedEHR.seal(db, subject, index_time, hadm, limits)  # type: ignore[arg-type]
        seal.append(time.perf_counter() - start)
        view.query(TIMELINE)  # warm
        for _ in range(3):
            start = time.perf_counter()
            result = view.query(TIMELINE)
            timeline.append(time.perf_counter() - start)
            latest.append(_timed(lambda v=view: v.query(LATEST)))
        rows.append(len(result.rows))
        view.close()
    print(
        f"encounters sampled: {len(encounters)}; lab rows per timeline: median "
        f"{statistics.median(rows):.0f}"
    )
    print(f"sealing (copy one patient's permitted rows, lock down): {_ms(seal)}")
    print(f"full lab timeline via sealed view: {_ms(timeline)}")
    print(f"latest value per lab via sealed view: {_ms(latest)}")


if __name__ == "__main__":
    main()
