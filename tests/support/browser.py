"""Headless Debian Chromium driven by playwright, with every network request refused."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

CHROMIUM = Path(os.environ.get("CLINSIM_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Watched:
    """A page plus everything that went wrong on it."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [
            *(f"network request: {u}" for u in self.blocked),
            *(f"console error: {m}" for m in self.console_errors),
            *(f"page error: {m}" for m in self.page_errors),
        ]


@contextmanager
def offline_page(width: int = 1400, height: int = 1000) -> Iterator[Watched]:
    """A fresh Chromium profile whose pages may load file: and data: URLs and nothing else."""
    with (
        tempfile.TemporaryDirectory(prefix="clinsim-chromium-") as profile,
        sync_playwright() as pw,
    ):
        context: BrowserContext = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=FLAGS,
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            watched = Watched(page)

            def guard(route: Route) -> None:
                url = route.request.url
                if url.startswith(("file:", "data:")):
                    route.continue_()
                else:
                    watched.blocked.append(url)
                    route.abort()

            context.route("**/*", guard)
            page.on(
                "console",
                lambda m: watched.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: watched.page_errors.append(str(e)))
            yield watched
        finally:
            context.close()
