"""The bundled templates word every prompt exactly as the prompts were worded in code before
they became templates.

`data/prompts_before_templates.json.gz` was recorded by `tests/support/prompt_requests.py` from the
code as it was before: every request the LLM doctor (three protocols, biases, images, history,
the last turn, repairs), the text tool instructions, the patient (biases, a leak retry), the
measurement reader and the judge (with a retry; yes/no and graded) sent, and every bias text.
The graded judge's cases were recorded the same way from the code that introduced it, before
its prompts became templates; its other cases matched this recording exactly.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from prompt_requests import collect

RECORDED = Path(__file__).parent / "data" / "prompts_before_templates.json.gz"


def test_the_bundled_templates_give_the_prompts_byte_for_byte() -> None:
    recorded = json.loads(gzip.decompress(RECORDED.read_bytes()))
    now = collect()
    assert sorted(now) == sorted(recorded)
    for case, sent in recorded.items():
        assert now[case] == sent, case
