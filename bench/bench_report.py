"""Size and opening time of an HTML report of many episodes, in headless Chromium.

Builds a synthetic study (two runs over the same scenarios, ~10-turn transcripts with questions,
answers, tests, EHR queries, images and collapsed model calls; the baseline run calls no model,
with --all-llm both runs have an LLM doctor and an LLM patient), renders it with
`clinsim.report.render_report`, writes it to disk and opens it in Debian's Chromium (playwright,
network blocked) REPEAT times, each in a fresh page. Prints: statistics and render time, file
size, and in the browser: time to the load event and to the report being ready (table built,
filters wired), opening one transcript, side by side, and a filter over all rows.

With --from RUN_OR_EXPERIMENT..., the report is built from stored runs instead, as
`clinsim report` builds it (transcripts from the stored events, images from the scenarios).

Usage: python bench/bench_report.py [--episodes 1000] [--trials 1] [--repeat 5] [--all-llm]
                                    [--screenshot docs/images/report.png]
       python bench/bench_report.py --from experiments/NAME [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from browser import offline_page  # noqa: E402
from synthetic_report import synthetic_report  # noqa: E402

from clinsim.report import render_report  # noqa: E402

RUNS = {"baseline": 0.25, "medgemma-27b": 0.55}
LLM_RUNS = {"medgemma-4b": 0.35, "medgemma-27b": 0.55}


def build(episodes: int, trials: int, runs: dict[str, float]) -> tuple[str, float, float, int]:
    scenarios = episodes // (len(runs) * trials)
    start = time.perf_counter()
    data = synthetic_report(runs, scenarios=scenarios, trials=trials)
    assembled = time.perf_counter()
    html = render_report(data)
    rendered = time.perf_counter()
    return html, assembled - start, rendered - assembled, len(data.outcomes)


def build_from(sources: list[str]) -> tuple[str, float, float, int]:
    """The report of stored runs, through the code `clinsim report` runs."""
    from clinsim.cli.reporting import _gather, _title
    from clinsim.environments.run_store import RunStore
    from clinsim.report.from_store import report_from_runs

    start = time.perf_counter()
    names: list[str] = []
    runs = _gather(sources, names)
    events = [RunStore(r.run_dir).all_events() for r in runs]
    data = report_from_runs(runs, events, _title(runs, names, len(sources)))
    assembled = time.perf_counter()
    html = render_report(data)
    rendered = time.perf_counter()
    return html, assembled - start, rendered - assembled, len(data.outcomes)


def open_once(url: str) -> dict[str, float]:
    with offline_page() as w:
        page = w.page
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("html[data-ready=true]", timeout=60_000)
        wall = time.perf_counter() - start
        timing = page.evaluate(
            """() => {
              const nav = performance.getEntriesByType('navigation')[0];
              const ready = performance.getEntriesByName('report-ready')[0];
              return {load: nav.loadEventEnd, dom: nav.domContentLoadedEventEnd,
                      ready: ready ? ready.startTime : -1};
            }"""
        )
        t = time.perf_counter()
        page.locator("#episode-table tbody tr").nth(1).click()
        page.wait_for_selector("#viewer .pane")
        transcript = time.perf_counter() - t
        t = time.perf_counter()
        page.select_option("#viewer-other", index=1)
        page.wait_for_selector("#viewer-panes.two")
        side = time.perf_counter() - t
        t = time.perf_counter()
        page.fill("#filter-text", "pneumonia")
        page.evaluate("() => document.getElementById('episode-count').textContent")
        search = time.perf_counter() - t
        problems = w.problems()
        if problems:
            raise SystemExit(f"the report misbehaved: {problems[:5]}")
    return {
        "wall_s": wall,
        "dom_ms": timing["dom"],
        "load_ms": timing["load"],
        "ready_ms": timing["ready"],
        "transcript_ms": transcript * 1000,
        "side_ms": side * 1000,
        "search_ms": search * 1000,
    }


def screenshots(out: Path) -> None:
    """The overview and a side-by-side transcript of a small study, for the docs."""
    data = synthetic_report(
        {"baseline": 0.25, "medgemma-27b": 0.55, "medgemma-27b budget 400": 0.6},
        scenarios=30,
        trials=2,
        seed=3,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        path.write_text(render_report(data), encoding="utf-8")
        with offline_page(width=1400, height=2300) as w:
            w.page.goto(path.as_uri())
            w.page.wait_for_selector("html[data-ready=true]")
            w.page.screenshot(path=str(out))
            w.page.locator("button.side-by-side").nth(2).click()
            w.page.wait_for_selector("#viewer-panes.two")
            viewer = out.with_name(out.stem + "-transcript" + out.suffix)
            w.page.locator("#viewer").screenshot(path=str(viewer))
    print(f"screenshots: {out}, {viewer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument("--from", dest="sources", nargs="+", default=None, metavar="RUN")
    parser.add_argument(
        "--all-llm", action="store_true", help="Both runs with LLM doctor and patient (heavier)."
    )
    args = parser.parse_args()

    runs = LLM_RUNS if args.all_llm else RUNS
    if args.sources:
        html, stats_s, render_s, n = build_from(args.sources)
        print(f"episodes: {n} (stored: {', '.join(args.sources)})")
        print(f"read and statistics {stats_s:.2f} s; render {render_s:.2f} s")
    else:
        html, stats_s, render_s, n = build(args.episodes, args.trials, runs)
        print(f"episodes: {n} (runs {', '.join(runs)}; {args.trials} trial(s))")
        print(f"statistics {stats_s:.2f} s; render {render_s:.2f} s")
    size = len(html.encode())
    print(f"file size: {size / 1e6:.2f} MB ({size / n / 1000:.1f} kB per episode)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        path.write_text(html, encoding="utf-8")
        runs = [open_once(path.as_uri()) for _ in range(args.repeat)]
    for key in ("wall_s", "dom_ms", "load_ms", "ready_ms", "transcript_ms", "side_ms", "search_ms"):
        values = [r[key] for r in runs]
        middle, low, high = statistics.median(values), min(values), max(values)
        print(f"{key:>14}: median {middle:8.1f}  min {low:8.1f}  max {high:8.1f}")
    if args.screenshot:
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshots(args.screenshot)


if __name__ == "__main__":
    main()
