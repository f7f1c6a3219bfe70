"""A judge: the submitted diagnosis must equal the correct one or a synonym, ignoring case."""

from __future__ import annotations

from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.factories import RoleRequest, judge
from clinsim.environments.roles import Verdict
from clinsim.plugins import NoConfig
from clinsim.scenarios.model import AnswerKey


class ExactJudge:
    name = "exact"

    async def judge(self, submission: SubmitDiagnosis, key: AnswerKey) -> Verdict:
        names = {name.strip().lower() for name in (key.diagnosis, *key.synonyms)}
        if submission.diagnosis.strip().lower() in names:
            return Verdict(True, "the same name", rank=1)
        return Verdict(False, f"{submission.diagnosis!r} is not {key.diagnosis!r}")


@judge("exact", config=NoConfig)
def exact_judge(request: RoleRequest, config: NoConfig) -> ExactJudge:
    """The same name as the correct diagnosis or a synonym, ignoring case."""
    return ExactJudge()
