"""The rules judge: a deterministic diagnosis matcher (see `matching` for the rules).

The verdict is about the submitted diagnosis; `rank` is the 1-based position of the first
matching candidate among [diagnosis, *differential], so ranked-differential scores (top-k)
can be computed from stored verdicts.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from clinsim.agents.judges.lexicon import Lexicon, default_lexicon, load_lexicon
from clinsim.agents.judges.matching import contradiction, match_name
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.factories import RoleRequest, judge
from clinsim.environments.roles import Verdict
from clinsim.plugins import Config
from clinsim.scenarios.model import AnswerKey


class RulesJudge:
    name = "rules"

    def __init__(self, lexicon: Lexicon | None = None):
        self.lexicon = lexicon or default_lexicon()

    def verdict(self, diagnosis: str, differential: list[str], key: AnswerKey) -> Verdict:
        references = [key.diagnosis, *key.synonyms]
        candidates = [diagnosis, *differential]
        for rank, candidate in enumerate(candidates, start=1):
            found = match_name(candidate, references, self.lexicon)
            if found is None:
                continue
            how = f"{candidate!r} matches {found.reference!r}: {found.reason}"
            if rank == 1:
                return Verdict(True, f"diagnosis {how}", rank=1)
            return Verdict(
                False,
                f"diagnosis {diagnosis!r} does not match; differential #{rank - 1} {how}",
                rank=rank,
            )
        clash = contradiction(diagnosis, key.diagnosis, self.lexicon)
        detail = f" (differs: {clash})" if clash else ""
        checked = f"diagnosis {diagnosis!r}" + (
            f" and {len(differential)} differential entries" if differential else ""
        )
        return Verdict(False, f"no candidate matches {key.diagnosis!r}{detail}; checked {checked}")

    async def judge(self, submission: SubmitDiagnosis, key: AnswerKey) -> Verdict:
        return self.verdict(submission.diagnosis, list(submission.differential), key)


class RulesConfig(Config):
    vocabulary: Path | None = Field(
        default=None, description="Judge vocabulary file (default: the bundled one)."
    )


@judge("rules", config=RulesConfig)
def rules(request: RoleRequest, config: RulesConfig) -> RulesJudge:
    """A deterministic matcher: normalisation, abbreviations, synonyms."""
    return RulesJudge(load_lexicon(config.vocabulary))
