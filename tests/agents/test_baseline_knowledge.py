"""Leave-one-out knowledge of the baseline doctor: it never uses the case of the scenario being
played, nor of its duplicates, and it finds a held-out diagnosis that other cases share."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinsim.agents.doctors.baseline import BaselineDoctor
from clinsim.agents.doctors.knowledge import (
    Case,
    DiagnosisRanker,
    cached_index,
    default_ranker,
    fingerprint,
    load_cases,
)
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.actions import CORE_ACTIONS, SubmitDiagnosis
from clinsim.environments.events import DiagnosisJudged
from clinsim.environments.roles import DoctorView, Exchange
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.loader import load_file
from clinsim.scenarios.sets import bundled_sets, find_scenario, get_set, load_report

OBJECTIVE = "Evaluate the child with fever and a rash."
KAWASAKI = "fever five day conjunctival injection strawberry tongue cracked lip desquamation"
CASES = [
    Case("Kawasaki disease", KAWASAKI, "set-a/0007", ("set-a/0007", "set-b/0031")),
    Case("Measles", "fever cough coryza conjunctivitis maculopapular rash koplik spot", ""),
    Case("Scarlet fever", "sore throat sandpaper rash strawberry tongue", ""),
    Case("Impetigo", "honey crusted lesion face", ""),
]
TRANSCRIPT = "Five days of fever, red eyes, strawberry tongue, cracked lips, peeling fingers."


def _view(scenario_id: str, objective: str = OBJECTIVE) -> DoctorView:
    history = (Exchange(SubmitDiagnosis(diagnosis="x"), TRANSCRIPT),)
    return DoctorView(
        scenario_id=scenario_id,
        objective=objective,
        turn=19,
        max_turns=20,
        tools=CORE_ACTIONS,
        history=history,
    )


def _named(action: SubmitDiagnosis) -> list[str]:
    return [action.diagnosis, *action.differential]


@pytest.mark.parametrize("scenario_id", ["set-a/0007", "set-b/0031"])
async def test_the_played_scenario_and_its_duplicates_are_never_used(scenario_id: str) -> None:
    doctor = BaselineDoctor(ranker=DiagnosisRanker(CASES))
    elsewhere = await doctor.act(_view("set-c/0001"))
    assert isinstance(elsewhere, SubmitDiagnosis) and elsewhere.diagnosis == "Kawasaki disease"
    played = await doctor.act(_view(scenario_id))
    assert isinstance(played, SubmitDiagnosis)
    assert "Kawasaki disease" not in _named(played)
    assert played.diagnosis == "Scarlet fever"  # the next closest case, deterministically


def test_a_copy_loaded_by_path_is_recognised_by_its_objective_fingerprint() -> None:
    distinctive = Case(
        "Kawasaki disease", KAWASAKI, "a/0007", ("a/0007",), (fingerprint(OBJECTIVE),)
    )
    stock = Case(
        "Kawasaki disease", KAWASAKI, "a/0007", ("a/0007",), (fingerprint(OBJECTIVE, "0007"),)
    )
    for case, hidden_elsewhere in [(distinctive, True), (stock, False)]:
        ranker = DiagnosisRanker([case, *CASES[1:]])
        assert ranker.hidden("my_copy/0007", OBJECTIVE)[0]
        assert ranker.hidden("my_copy/0001", OBJECTIVE.upper())[0] == hidden_elsewhere
        assert not ranker.hidden("my_copy/0007", "Evaluate the patient.")[0]


def test_every_bundled_scenario_hides_its_own_case_also_when_loaded_by_path() -> None:
    ranker = default_ranker()
    for scenario_set in bundled_sets():
        bundled = load_report(scenario_set.name).scenarios
        copies = load_file(scenario_set.path).scenarios
        for scenario, copy in zip(bundled, copies, strict=True):
            mask = ranker.hidden(scenario.id, scenario.case.objective)
            own = [i for i, c in enumerate(ranker.cases) if scenario.id in c.hidden_from]
            assert len(own) >= 1 and mask[own].all(), scenario.id
            assert (ranker.hidden(copy.id, copy.case.objective) == mask).all(), copy.id


@pytest.mark.parametrize(
    ("played", "duplicate"),
    [
        ("agentclinic-medqa/0001", "agentclinic-medqa-ext/0001"),  # same record, two sets
        ("agentclinic-medqa-ext/0111", "agentclinic-medqa-ext/0209"),  # one case told twice
    ],
)
def test_duplicates_hide_each_other(played: str, duplicate: str) -> None:
    ranker = default_ranker()
    scenario = find_scenario(played)
    mask = ranker.hidden(played, scenario.case.objective)
    assert any(mask[i] for i, c in enumerate(ranker.cases) if duplicate in c.hidden_from)


def test_other_admissions_of_the_same_patient_are_hidden() -> None:
    admissions: dict[int, list[str]] = {}
    for scenario in load_report("mimic-iv-demo").scenarios:
        assert scenario.case.ehr is not None
        admissions.setdefault(scenario.case.ehr.subject_id, []).append(scenario.id)
    first, *others = max(admissions.values(), key=len)
    ranker = default_ranker()
    mask = ranker.hidden(first, find_scenario(first).case.objective)
    for other in others:
        assert any(mask[i] for i, c in enumerate(ranker.cases) if c.source == other)


def test_ranking_is_deterministic_and_merges_spellings() -> None:
    ranker = DiagnosisRanker(
        [*CASES, Case("kawasaki Disease", "fever rash", ""), Case("Kawasaki disease", "x y", "")]
    )
    first = ranker.rank(TRANSCRIPT, top=10)
    assert first == ranker.rank(TRANSCRIPT, top=10)
    assert [name for name, _ in first].count("Kawasaki disease") == 1
    assert len(first) == 4


@pytest.mark.parametrize(
    ("scenario_id", "diagnosis"),
    [
        ("agentclinic-medqa/0001", "Myasthenia gravis"),
        ("images/fundus-dr-01", "Diabetic retinopathy"),
    ],
)
async def test_a_held_out_diagnosis_shared_by_other_cases_is_in_the_top_five(
    tmp_path: Path, scenario_id: str, diagnosis: str
) -> None:
    scenario = find_scenario(scenario_id)
    assert scenario.answer.diagnosis == diagnosis and get_set(scenario_id.split("/")[0])
    ranker = default_ranker()
    mask = ranker.hidden(scenario.id, scenario.case.objective)
    others = [c for c, hidden in zip(ranker.cases, mask, strict=True) if not hidden]
    assert any(c.diagnosis == diagnosis for c in others)  # the diagnosis is known elsewhere
    config = RunConfig(sources=[scenario_id.split("/")[0]])
    store = RunStore(tmp_path / "run")
    store.create("run", resolve(config).stored().model_dump(mode="json"))
    await Runner(resolve(config), store, "run").run([scenario])
    (verdict,) = [e for e in store.events(scenario_id) if isinstance(e, DiagnosisJudged)]
    assert verdict.rank is not None and verdict.rank <= 5, verdict.reason


def test_the_index_read_from_the_cache_ranks_as_the_one_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINSIM_CACHE", str(tmp_path))
    documents = [case.text for case in load_cases()]
    built = cached_index(documents)
    [saved] = (tmp_path / "baseline").glob("tfidf-*.npz")
    read = cached_index(documents)
    assert read.vocabulary == built.vocabulary
    for query in ("fever cough and pleuritic chest pain", "double vision worse in the evening"):
        assert read.similarities(query).tolist() == built.similarities(query).tolist()
    # other documents get an index of their own; a damaged file is built again and replaced
    assert cached_index(documents[:10]).size == 10
    assert len(list((tmp_path / "baseline").glob("tfidf-*.npz"))) == 2
    whole = saved.read_bytes()
    for damaged in (b"not an npz", whole[: len(whole) // 2]):
        saved.write_bytes(damaged)
        again = cached_index(documents)
        assert again.similarities("fever").tolist() == built.similarities("fever").tolist()
        assert saved.read_bytes() == whole


def test_an_unwritable_cache_still_gives_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CLINSIM_CACHE", str(blocker))  # a file where the folder would be
    index = cached_index(["cough and fever", "rash on the arm"])
    assert index.similarities("fever").argmax() == 0
