"""The rules judge: a deterministic, terminology-grounded diagnosis grader.

The submitted text is read as a ranked list (`hedging`: "most likely X; Y less likely" leads
with X), followed by the differential. The leading diagnosis is graded against the answer key
(`grading`: exact, synonym, more specific, less specific, related, wrong) and the verdict is a
match when the grade is correct: exact, synonym or more specific, and less specific too when
the judge's setting `accept_less_specific` is on (`--agent-option
judge.accept_less_specific=true`). `rank` is the 1-based position of the first correct candidate,
so ranked-differential scores (top-k) can be computed from stored verdicts.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from clinsim.agents.judges.grading import CORRECT, Graded, Grader, better
from clinsim.agents.judges.hedging import candidates
from clinsim.agents.judges.lexicon import Lexicon, default_lexicon, load_lexicon
from clinsim.agents.judges.terminology import load_terminology
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.events import Grade
from clinsim.environments.factories import RoleRequest, judge
from clinsim.environments.roles import Verdict
from clinsim.plugins import Config
from clinsim.scenarios.model import AnswerKey


class RulesConfig(Config):
    vocabulary: Path | None = Field(
        default=None, description="Judge vocabulary file (default: the bundled one)."
    )
    accept_less_specific: bool = Field(
        default=False,
        description="Count an answer less specific than the reference (an ancestor concept, "
        "'Thyroid cancer' for 'Papillary thyroid carcinoma') as correct.",
    )


_GRADERS: dict[int, tuple[Lexicon, Grader]] = {}


def grader_for(lexicon: Lexicon) -> Grader:
    """One grader (and its terminology index) per vocabulary, shared by every judge."""
    kept = _GRADERS.get(id(lexicon))
    if kept is None or kept[0] is not lexicon:
        kept = _GRADERS[id(lexicon)] = (
            lexicon,
            Grader(lexicon, load_terminology(lexicon.canon, lexicon.canon_signature())),
        )
    return kept[1]


class RulesJudge:
    name = "rules"

    def __init__(self, lexicon: Lexicon | None = None, accept_less_specific: bool = False):
        self.lexicon = lexicon or default_lexicon()
        self.grader = grader_for(self.lexicon)
        self.accepted: frozenset[Grade] = CORRECT | (
            {"less_specific"} if accept_less_specific else frozenset()
        )

    def grade(self, candidate: str, key: AnswerKey) -> Graded:
        """The best grade of `candidate` against the key's diagnosis and its synonyms."""
        best: Graded | None = None
        for reference in [key.diagnosis, *key.synonyms]:
            best = better(best, self.grader.grade(candidate, reference))
            if best is not None and best.grade == "exact":
                break
        assert best is not None
        return best

    def verdict(self, diagnosis: str, differential: list[str], key: AnswerKey) -> Verdict:
        named = candidates(diagnosis)
        ranked: list[tuple[str, str]] = [(name, "diagnosis") for name in named]
        for entry in differential:
            ranked += [(name, "differential") for name in candidates(entry)]
        leading = self.grade(ranked[0][0], key)
        evidence = [leading.evidence()]
        if leading.grade in self.accepted:
            how = f"{leading.answer!r} matches {leading.reference!r}: {leading.how}"
            return Verdict(True, f"diagnosis {how}", 1, leading.grade, evidence)
        for rank, (name, origin) in enumerate(ranked[1:], start=2):
            found = self.grade(name, key)
            if found.grade in self.accepted:
                where = (
                    f"differential #{rank - len(named)}"
                    if origin == "differential"
                    else (f"named #{rank} in the diagnosis text")
                )
                reason = (
                    f"diagnosis {diagnosis!r} does not match ({leading.grade}); {where} "
                    f"{name!r} matches {found.reference!r}: {found.how}"
                )
                return Verdict(False, reason, rank, leading.grade, [*evidence, found.evidence()])
        checked = f"diagnosis {diagnosis!r}" + (
            f" and {len(differential)} differential entries" if differential else ""
        )
        reason = (
            f"no candidate matches {key.diagnosis!r}; leading {leading.answer!r} is "
            f"{leading.grade.replace('_', ' ')}: {leading.how}; checked {checked}"
        )
        return Verdict(False, reason, None, leading.grade, evidence)

    async def judge(self, submission: SubmitDiagnosis, key: AnswerKey) -> Verdict:
        return self.verdict(submission.diagnosis, list(submission.differential), key)


@judge("rules", config=RulesConfig)
def rules(request: RoleRequest, config: RulesConfig) -> RulesJudge:
    """A deterministic, terminology-grounded grader: exact, synonym, more or less specific."""
    lexicon = load_lexicon(config.vocabulary)
    return RulesJudge(lexicon, accept_less_specific=config.accept_less_specific)
