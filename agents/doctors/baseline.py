"""The baseline doctor: a non-LLM reference policy.

Each turn it looks only at the `DoctorView` (never the scenario, never the answer key) and
takes the first step of a fixed plan it has not taken yet:

1. a fixed history sequence (AskPatient);
2. vital signs and the physical examination;
3. every offered tool that needs no arguments (EHR summaries, latest labs, ...), and
   `read_image` for each image it can see (shown up front or named in the objective);
4. up to a few targeted tests chosen by keywords in the patient's answers;
5. the rest of a standard panel (blood count, metabolic panel, urinalysis, chest X-ray, ECG).

It submits when the plan is done or on its last turn, whichever comes first: the diagnosis
whose solved cases are most similar (TF-IDF cosine, nearest neighbour) to everything it
observed, with the next four as the differential. Its candidates are the diagnoses of its
knowledge: MedQA diagnosis questions and the bundled scenarios, leave-one-out (the cases of
the scenario being played and of its duplicates are hidden, by scenario id and objective; see
`knowledge.py`). The policy lives in `baseline_policy.json`, the knowledge in
`baseline_kb.json`. It is deterministic given the view.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from clinsim.agents.doctors.knowledge import DiagnosisRanker, default_ranker, load_cases
from clinsim.environments.actions import (
    Action,
    AskPatient,
    CallTool,
    OrderTest,
    SubmitDiagnosis,
)
from clinsim.environments.factories import RoleRequest, doctor
from clinsim.environments.roles import DoctorView
from clinsim.plugins import NoConfig

POLICY_FILE = "baseline_policy.json"
CORE_ACTIONS = frozenset({"ask_patient", "order_test", "submit_diagnosis"})
_IMAGE_ID = re.compile(r"\bimage-\d+\b")
UNKNOWN = "Unknown"
"""Submitted when every case of the knowledge base is hidden for the played scenario."""
EXAMS_FIRST = 2
"""How many panel entries (vital signs, physical examination) come before tools and targeted
tests."""


@dataclass(frozen=True)
class Targeted:
    keywords: tuple[str, ...]
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    history: tuple[str, ...]
    panel: tuple[str, ...]
    targeted: tuple[Targeted, ...]
    targeted_limit: int = 4
    image_tool: str = "read_image"


def policy_from_json(raw: dict[str, Any]) -> Policy:
    return Policy(
        history=tuple(raw["history"]),
        panel=tuple(raw["panel"]),
        targeted=tuple(
            Targeted(tuple(t["keywords"]), tuple(t["tests"])) for t in raw.get("targeted", [])
        ),
        targeted_limit=int(raw.get("targeted_limit", 4)),
        image_tool=str(raw.get("image_tool", "read_image")),
    )


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    text = resources.files("clinsim.agents").joinpath("data", POLICY_FILE).read_text("utf-8")
    return policy_from_json(json.loads(text))


def image_ids(view: DoctorView) -> list[str]:
    """Images the doctor can see: shown up front or named ('image-2') in the objective."""
    ids = [image.id for image in view.images]
    ids += _IMAGE_ID.findall(view.objective)
    return list(dict.fromkeys(ids))


def transcript(view: DoctorView) -> str:
    """Everything observed so far: the objective (the whole case, when it is presented as a
    vignette), answers, results and tool outputs."""
    return "\n".join([view.vignette or view.objective, *(x.observation for x in view.history)])


class BaselineDoctor:
    def __init__(self, policy: Policy | None = None, ranker: DiagnosisRanker | None = None):
        self.policy = policy or default_policy()
        self.ranker = ranker or default_ranker()

    def tool_calls(self, view: DoctorView) -> list[Action]:
        calls: list[Action] = []
        offered = {s.name: s for s in view.tools}
        for name, spec in sorted(offered.items()):
            if name not in CORE_ACTIONS and not spec.required:
                calls.append(CallTool(tool=name))
        if self.policy.image_tool in offered:
            calls += [
                CallTool(tool=self.policy.image_tool, arguments={"image_id": image})
                for image in image_ids(view)
            ]
        return calls

    def targeted_tests(self, view: DoctorView) -> list[Action]:
        heard = " ".join(
            [
                view.objective,
                *(x.observation for x in view.history if isinstance(x.action, AskPatient)),
            ]
        ).lower()
        tests: list[str] = []
        for rule in self.policy.targeted:
            if any(keyword in heard for keyword in rule.keywords):
                tests += [t for t in rule.tests if t not in tests and t not in self.policy.panel]
        return [OrderTest(test=t) for t in tests[: self.policy.targeted_limit]]

    def plan(self, view: DoctorView) -> list[Action]:
        panel = [OrderTest(test=t) for t in self.policy.panel]
        return [
            *(AskPatient(question=q) for q in self.policy.history),
            *panel[:EXAMS_FIRST],
            *self.tool_calls(view),
            *self.targeted_tests(view),
            *panel[EXAMS_FIRST:],
        ]

    def diagnose(self, view: DoctorView) -> SubmitDiagnosis:
        """The five diagnoses whose visible cases are closest to the transcript. Cases derived
        from the played scenario (or a duplicate of it) are hidden: leave-one-out."""
        hidden = self.ranker.hidden(view.scenario_id, view.objective)
        ranked = [name for name, _ in self.ranker.rank(transcript(view), top=5, hidden=hidden)]
        if not ranked:
            return SubmitDiagnosis(diagnosis=UNKNOWN)
        return SubmitDiagnosis(diagnosis=ranked[0], differential=ranked[1:])

    async def act(self, view: DoctorView) -> Action:
        if view.turns_left <= 1:
            return self.diagnose(view)
        taken = [x.action for x in view.history]
        for action in self.plan(view):
            if action not in taken:
                return action
        return self.diagnose(view)


@doctor("baseline")
def baseline(request: RoleRequest, config: NoConfig) -> BaselineDoctor:
    """A non-LLM reference policy; `baseline/PATH` reads another knowledge file.

    Only the view reaches the doctor: the scenario in the request is not passed on."""
    if request.name:
        return BaselineDoctor(ranker=DiagnosisRanker(load_cases(request.name)))
    return BaselineDoctor()
