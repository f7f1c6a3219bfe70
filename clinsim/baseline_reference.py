"""What the baseline doctor scores: the floor a model doctor should beat.

The baseline is clinsim's non-LLM reference policy (`agents/doctors/baseline.py`). Its accuracy
per bundled set was measured by `bench/baseline_accuracy.py` (docs/benchmarks.md): fact patient,
lookup measurement, rules judge, 20 turns.
"""

from __future__ import annotations

from collections.abc import Sequence

BASELINE_TOP1: dict[str, tuple[int, int]] = {
    "demo": (3, 8),
    "agentclinic-medqa": (10, 107),
    "agentclinic-medqa-ext": (17, 214),
    "mimic-iv-demo": (3, 244),
    "images": (21, 36),
}
"""Bundled set -> (right, episodes) for `clinsim run SET --doctor baseline`."""


def baseline_note(sources: Sequence[str], figures: bool = True) -> str:
    """What the baseline doctor is, and (with `figures`: the run's settings are those they were
    measured with) the accuracy to expect from it on these sets."""
    text = (
        "The baseline doctor is clinsim's non-LLM reference policy: it asks a fixed set of "
        "questions, orders a standard panel and names the diagnosis of the most similar case it "
        "knows, with no medical reasoning, so its wrong answers can be clinically absurd. It is "
        "the floor a model doctor should beat."
    )
    known = [s for s in sources if s in BASELINE_TOP1]
    if known and figures:
        expected = ", ".join(
            f"{s} {right / n:.1%} ({right}/{n})" for s in known for right, n in [BASELINE_TOP1[s]]
        )
        text += f" Expected accuracy (20 turns, rules judge): {expected}; see docs/benchmarks.md."
    return text
