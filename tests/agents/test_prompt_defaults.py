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

import pytest
from prompt_requests import collect

from clinsim.agents.llm.doctor_prompts import doctor_messages
from clinsim.agents.llm.parsing import Protocol
from clinsim.environments.encounter import SUBMIT_DIAGNOSIS
from clinsim.environments.roles import DoctorView
from clinsim.scenarios.model import ImageRef

RECORDED = Path(__file__).parent / "data" / "prompts_before_templates.json.gz"


def test_the_bundled_templates_give_the_prompts_byte_for_byte() -> None:
    recorded = json.loads(gzip.decompress(RECORDED.read_bytes()))
    now = collect()
    assert sorted(now) == sorted(recorded)
    for case, sent in recorded.items():
        assert now[case] == sent, case


VIGNETTE_SYSTEM = (
    "You are a physician. You are given a complete clinical case: the history, the examination "
    "and the test results. You cannot ask questions or order tests: give the most likely "
    "diagnosis now, in one reply.\n\n"
)
VIGNETTE_FORMAT = {
    "json": 'Reply with exactly one JSON object and nothing else: {"action": "submit_diagnosis", '
    '"diagnosis": "<most likely diagnosis>", "differential": ["<next most likely>", "..."]}',
    "tools": "Reply with one call of submit_diagnosis (with an optional differential, most "
    "likely first).",
    "agentclinic": 'Reply with "DIAGNOSIS READY: [diagnosis here]".',
}


@pytest.mark.parametrize("protocol", ["json", "tools", "agentclinic"])
@pytest.mark.parametrize("bias", [None, "You are initially confident it is cancer."])
def test_a_vignette_is_worded_as_before_its_prompts_became_templates(
    protocol: Protocol, bias: str | None
) -> None:
    case = "A 34-year-old woman has had a cough for 3 weeks.\n{{ not a template }}"
    images = (ImageRef(id="cxr-1", modality="chest-xray"), ImageRef(id="ct-1", modality=None))
    view = DoctorView(
        scenario_id="demo/0001",
        objective="Diagnose the patient.",
        turn=0,
        max_turns=1,
        tools=(SUBMIT_DIAGNOSIS,),
        images=images,
        vignette=case,
    )
    system, opening = doctor_messages(view, protocol, bias, {"cxr-1": "/images/cxr-1.png"})
    assert system.content == VIGNETTE_SYSTEM + VIGNETTE_FORMAT[protocol] + (
        f"\n\n{bias}" if bias else ""
    )
    last = "DIAGNOSIS READY: [diagnosis]" if protocol == "agentclinic" else "submit_diagnosis"
    assert opening.content == (
        f"{case}\nImages of the case: cxr-1 (chest-xray), ct-1 (image).\n"
        "[Image attached: cxr-1]\n\n"
        f"[Turn 1 of 1; 1 left.] This is your last turn: give your diagnosis now ({last})."
    )
    assert opening.images == ["/images/cxr-1.png"]
