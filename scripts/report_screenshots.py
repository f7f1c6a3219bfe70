"""Screenshots of a report for the docs: the page's top and a transcript side by side.

    python scripts/report_screenshots.py REPORT.html OUT.png [--height 2300]

Writes OUT.png (the report from its top) and OUT-transcript.png (the first discordant case's
two transcripts side by side), in headless Debian Chromium with the network blocked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from browser import offline_page  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--height", type=int, default=2300)
    args = parser.parse_args()
    with offline_page(width=1400, height=args.height) as w:
        w.page.goto(args.report.resolve().as_uri())
        w.page.wait_for_selector("html[data-ready=true]")
        w.page.screenshot(path=str(args.out))
        w.page.locator("button.side-by-side").first.click()
        w.page.wait_for_selector("#viewer-panes.two")
        viewer = args.out.with_name(args.out.stem + "-transcript" + args.out.suffix)
        w.page.locator("#viewer").screenshot(path=str(viewer))
        if w.problems():
            raise SystemExit(f"the report misbehaved: {w.problems()[:5]}")
    print(f"screenshots: {args.out}, {viewer}")


if __name__ == "__main__":
    main()
