"""Judge one answer against one reference name with the rules judge (the `clinsim judge` file
format), for tests."""

from __future__ import annotations

from clinsim.agents.judges.lexicon import Lexicon
from clinsim.agents.judges.rules import RulesJudge
from clinsim.environments.roles import Verdict
from clinsim.scenarios.model import AnswerKey


def judge_pair(reference: str, answer: str, lexicon: Lexicon | None = None) -> Verdict:
    return RulesJudge(lexicon).verdict(answer, [], AnswerKey(diagnosis=reference))
