"""Clean command-line failures: one clear message on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

_err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    line = Text("error: ", style="bold red")
    line.append(message)  # plain text: file names and model output may hold [brackets]
    _err.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(code)
