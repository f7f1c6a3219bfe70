"""Events: everything observable that happens in an episode, in order.

The event list is the record of truth; scores, reports and replays are computed from it.
`seq` (the event's place in the episode) is stamped when the event is recorded
(`clinsim.environments.context`) and checked by the state reducer; `at` is wall-clock time and
is the only field that differs between two runs of the same seeded episode (see `comparable`).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from clinsim.environments.termination import TerminationReason

WALL_CLOCK_FIELDS = frozenset({"at", "latency_s"})


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = -1
    turn: int = 0
    at: float = Field(default_factory=time.time, description="Wall-clock time (unix seconds).")


class EpisodeStarted(_Event):
    kind: Literal["episode_started"] = "episode_started"
    scenario_id: str
    seed: int
    max_turns: int
    agents: dict[str, str] = Field(default_factory=dict)


class ImageShown(_Event):
    """An image was put in front of the doctor (up front or on request)."""

    kind: Literal["image_shown"] = "image_shown"
    image_id: str
    modality: str | None = None


class QuestionAsked(_Event):
    kind: Literal["question_asked"] = "question_asked"
    question: str


class PatientAnswered(_Event):
    kind: Literal["patient_answered"] = "patient_answered"
    answer: str
    facts: list[str] = Field(default_factory=list, description="Fact paths the answer used.")


class TestOrdered(_Event):
    kind: Literal["test_ordered"] = "test_ordered"
    test: str
    cost: float = 0.0


class TestReported(_Event):
    kind: Literal["test_reported"] = "test_reported"
    test: str
    matched: str | None = Field(default=None, description="Scenario key the request matched.")
    available: bool
    result: str


class ToolCalled(_Event):
    kind: Literal["tool_called"] = "tool_called"
    tool: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class ToolReturned(_Event):
    kind: Literal["tool_returned"] = "tool_returned"
    tool: str
    result: str
    error: str | None = None
    data: JsonValue = None


class DiagnosisSubmitted(_Event):
    kind: Literal["diagnosis_submitted"] = "diagnosis_submitted"
    diagnosis: str
    differential: list[str] = Field(default_factory=list)


class DoctorReplyRejected(_Event):
    """A model reply that no protocol parser could turn into an action."""

    kind: Literal["doctor_reply_rejected"] = "doctor_reply_rejected"
    reply: str
    error: str


class DoctorReplyRepaired(_Event):
    """A doctor reply whose action was read only after setting aside or fixing something:
    a code fence, text around the JSON, a trailing comma, a thinking span, a repeated call."""

    kind: Literal["doctor_reply_repaired"] = "doctor_reply_repaired"
    repairs: list[str]


class PatientLeakBlocked(_Event):
    """The patient's reply named the diagnosis and was withheld."""

    kind: Literal["patient_leak_blocked"] = "patient_leak_blocked"
    reply: str


FaultKind = Literal[
    "unknown_despite_fact",
    "off_topic_answer",
    "third_person",
    "leak_regenerated",
    "test_missed",
]


class SimulatorFault(_Event):
    """The simulator (patient or measurement), not the doctor, got a turn wrong: it said it did
    not know although a fact answers the question (`unknown_despite_fact`), answered from a
    fact of another topic (`off_topic_answer`), spoke of the patient in the third person
    (`third_person`), had a reply withheld for naming the diagnosis (`leak_regenerated`), or
    reported a test as not available that the case holds under another name (`test_missed`).
    Found by deterministic checks on the case's facts, never on the answer key."""

    kind: Literal["simulator_fault"] = "simulator_fault"
    fault: FaultKind
    role: Literal["patient", "measurement"]
    evidence: str


class ModelCalled(_Event):
    """One call to a generative model (any role), with enough detail to replay it."""

    kind: Literal["model_called"] = "model_called"
    role: str
    model: str
    call_id: str
    messages: list[dict[str, Any]] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    output: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, int] = Field(default_factory=dict)
    latency_s: float = 0.0
    retries: list[str] = Field(default_factory=list)
    error: str | None = None
    thinking: str | None = Field(default=None, description="Reasoning span stripped from output.")
    finish_reason: str | None = None


class EpisodeEnded(_Event):
    kind: Literal["episode_ended"] = "episode_ended"
    reason: TerminationReason
    detail: str = ""


Grade = Literal["exact", "synonym", "more_specific", "less_specific", "related", "wrong"]
"""How an answer relates to the reference: the same name, another name of the same concept, a
narrower concept (a subtype: correct), a broader one (partial: not correct unless the run accepts
it), a neighbour in the same terminology block, or something else."""
GRADES: tuple[Grade, ...] = (
    "exact",
    "synonym",
    "more_specific",
    "less_specific",
    "related",
    "wrong",
)


class ConceptRef(BaseModel):
    """A terminology concept a name was mapped to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    title: str
    term: str = Field(default="", description="The terminology's name that matched.")


class MatchEvidence(BaseModel):
    """Why a judge graded an answer the way it did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: str
    reference: str
    grade: Grade
    how: str
    answer_concept: ConceptRef | None = None
    reference_concept: ConceptRef | None = None


class DiagnosisJudged(_Event):
    kind: Literal["diagnosis_judged"] = "diagnosis_judged"
    judge: str
    match: bool
    reason: str
    rank: int | None = Field(
        default=None, description="1-based rank of the first matching candidate, if any."
    )
    grade: Grade | None = Field(
        default=None, description="Grade of the leading diagnosis (judges that grade)."
    )
    evidence: list[MatchEvidence] = Field(default_factory=list)


Event = Annotated[
    EpisodeStarted
    | ImageShown
    | QuestionAsked
    | PatientAnswered
    | TestOrdered
    | TestReported
    | ToolCalled
    | ToolReturned
    | DiagnosisSubmitted
    | DoctorReplyRejected
    | DoctorReplyRepaired
    | PatientLeakBlocked
    | SimulatorFault
    | ModelCalled
    | EpisodeEnded
    | DiagnosisJudged,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def comparable(event: _Event) -> dict[str, Any]:
    """The event without wall-clock fields: equal for equal seeded runs."""
    return event.model_dump(mode="json", exclude=set(WALL_CLOCK_FIELDS))


def append_events(left: list[Event], right: list[Event]) -> list[Event]:
    """State reducer: append new events, numbering them in order (events already numbered
    in their place are kept as they are)."""
    start = len(left)
    numbered = [
        e if e.seq == start + i else e.model_copy(update={"seq": start + i})
        for i, e in enumerate(right)
    ]
    return left + numbered
