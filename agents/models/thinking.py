"""MedGemma's reasoning span: `<unused94>thought ... <unused95>` before the answer.

Backends strip it from the reply text and keep it in `ChatResponse.thinking`, so the record has it
but parsers of the doctor's action never see it.
"""

from __future__ import annotations

import re

THINKING_START = "<unused94>"
THINKING_END = "<unused95>"

_SPAN = re.compile(
    re.escape(THINKING_START) + r"(.*?)(?:" + re.escape(THINKING_END) + r"|\Z)", re.S
)


def split_thinking(text: str) -> tuple[str, str | None]:
    """Return (reply without thinking spans, joined thinking or None).

    An opened span that never closes (generation cut off) counts as thinking up to the end.
    """
    if THINKING_START not in text:
        return text, None
    spans = [match.group(1).strip() for match in _SPAN.finditer(text)]
    reply = _SPAN.sub("", text).strip()
    return reply, "\n\n".join(span for span in spans if span) or None
