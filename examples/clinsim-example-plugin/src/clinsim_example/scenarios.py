"""A scenario set: a few synthetic cases whose examination records vital signs."""

from __future__ import annotations

from clinsim.scenarios.sets import ScenarioSet

VITALS = ScenarioSet(
    name="example-vitals",
    file="data/vitals.jsonl",
    description="Three synthetic cases with vital signs, for the example plugin's doctor.",
    license="MIT",
    attribution="clinsim example plugin",
    package="clinsim_example",
)
