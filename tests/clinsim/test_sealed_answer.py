"""The answer key is sealed: no doctor-visible text names the correct diagnosis.

Every bundled scenario that `audit` does not flag is played by a probing doctor that asks the
patient a broad set of questions, orders every test and examination the case holds plus a
standard panel, and calls every tool it is offered. Everything the doctor could see (the
objective, patient answers, results, tool outputs, and the prompts an LLM doctor would be sent
under each protocol) is scanned for the diagnosis with the audit's own phrase rule.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
from pathlib import Path
from typing import Any

import pytest

from clinsim.agents.llm.doctor_prompts import doctor_messages
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.actions import Action, AskPatient, CallTool, OrderTest, SubmitDiagnosis
from clinsim.environments.encounter import Presentation
from clinsim.environments.graph import run_encounter
from clinsim.environments.roles import DoctorView
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.audit import audit_scenario, diagnosis_names, doctor_visible_text
from clinsim.scenarios.mimic_note_cases import note_names
from clinsim.scenarios.mimic_notes import primary_diagnoses
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.note_sections import EXPOSED, discharge_sections
from clinsim.scenarios.sets import bundled_sets, demo_notes_dir, load_report
from clinsim.scenarios.text import NameMatcher, contains_phrase, terms

QUESTIONS = [
    "What brings you in today?",
    "Tell me about your symptoms.",
    "What is your past medical history?",
    "What medications do you take?",
    "Do you smoke or drink?",
    "Any family history of illness?",
    "Has a doctor told you what you have?",
    "What do you think is wrong?",
]
PANEL = ["Vital signs", "Physical examination", "CBC", "CMP", "Urinalysis", "Chest X-ray", "ECG"]
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "nejm_synthetic.jsonl"


class ProbeDoctor:
    def __init__(self, scenario: Scenario):
        self.plan: list[Action] = [AskPatient(question=q) for q in QUESTIONS]
        self.plan += [
            OrderTest(test=t) for t in [*PANEL, *scenario.case.exam, *scenario.case.tests]
        ]
        self.images = [i.id for i in scenario.case.images]
        self.views: list[DoctorView] = []

    async def act(self, view: DoctorView) -> Action:
        self.views.append(view)
        if view.turn == 0:
            self.plan += self.tool_calls(view)
        if view.turn < len(self.plan) and view.turns_left > 1:
            return self.plan[view.turn]
        return SubmitDiagnosis(diagnosis="undetermined")

    def tool_calls(self, view: DoctorView) -> list[Action]:
        calls: list[Action] = []
        for spec in view.tools:
            name, required = spec.name, spec.required
            if name in {"ask_patient", "order_test", "submit_diagnosis"}:
                continue
            if not required:
                calls.append(CallTool(tool=name))
            elif name == "query_ehr":
                calls += [
                    CallTool(tool=name, arguments={"sql": f"SELECT * FROM {t}"})
                    for t in ("diagnoses_icd", "admissions", "labevents")
                ]
            elif name == "get_lab_history":
                calls.append(CallTool(tool=name, arguments={"name": "glucose"}))
            elif name == "read_image":
                calls += [CallTool(tool=name, arguments={"image_id": i}) for i in self.images]
        return calls


def visible_texts(doctor: ProbeDoctor, events: list[Any]) -> list[str]:
    texts: list[str] = []
    for view in doctor.views:
        for protocol in ("json", "tools", "agentclinic"):
            for message in doctor_messages(view, protocol, None, {}):  # type: ignore[arg-type]
                texts.append(message.content)
    for e in events:
        for field in ("answer", "result", "question"):
            if isinstance(getattr(e, field, None), str):
                texts.append(getattr(e, field))
    return texts


def leaks(scenario: Scenario, texts: list[str]) -> list[str]:
    # Two-letter aliases ("DR", "PE") collide with ordinary words ("Dr.", "P.E."): skipped.
    needles = [terms(n) for n in diagnosis_names(scenario)]
    needles = [n for n in needles if n and (len(n) > 1 or len(n[0]) > 2)]
    unique = {t for text in texts for t in text.split("\n")}  # prompts repeat turn after turn
    return [t for t in unique if any(contains_phrase(terms(t), n) for n in needles)]


def sources() -> list[str]:
    return [s.name for s in bundled_sets()] + [str(FIXTURE)]


@pytest.mark.parametrize("presentation", ["dialogue", "vignette"])
@pytest.mark.parametrize("source", sources())
def test_no_doctor_visible_text_names_the_diagnosis(
    source: str, presentation: Presentation, tmp_path: Path
) -> None:
    """In a dialogue the probe sees everything it can ask for; as a vignette, the whole case
    at once (the prompts of every protocol carry it)."""
    scenarios = [s for s in load_report(source).scenarios if not audit_scenario(s)]
    assert scenarios
    config = RunConfig(max_turns=60, presentation=presentation)
    runner = Runner(resolve(config), RunStore(tmp_path), "leak")
    failures = []
    for scenario in scenarios:
        doctor = ProbeDoctor(scenario)
        parts = runner.parts(scenario, scenario.id, 0)
        parts.doctor = doctor
        events = asyncio.run(run_encounter(parts))
        assert events[-1].kind == "episode_ended"
        assert events[-1].reason == "diagnosed", (scenario.id, events[-1].detail)
        if presentation == "vignette":
            assert len(doctor.views) == 1 and doctor.views[0].vignette
        found = leaks(scenario, visible_texts(doctor, events))
        if found:
            failures.append((scenario.id, scenario.answer.diagnosis, found[0][:200]))
    assert failures == []


def _sealed_lines(sections: dict[str, str]) -> list[str]:
    header = {"", "name", "admission date", "date of birth", "sex", "service", "attending"}
    return [
        " ".join(line.split())
        for key, text in sections.items()
        if key not in EXPOSED and key not in header
        for line in text.splitlines()
        if len(line.split()) >= 4
    ]


def test_notes_cases_show_neither_the_note_diagnosis_nor_a_sealed_section(tmp_path: Path) -> None:
    """Every unflagged case built from a discharge summary, probed as above, and every text
    its case could show, checked for more names than the audit's (the ICD title's short forms
    and the note's primary discharge diagnoses, which the scenario does not keep) and for every
    line of the note's sealed sections."""
    notes = demo_notes_dir() / "note" / "discharge.csv.gz"
    with gzip.open(notes, "rt", encoding="utf-8", newline="") as handle:
        texts = {int(row["hadm_id"]): row["text"] for row in csv.DictReader(handle)}
    scenarios = [s for s in load_report("mimic-iv-demo-notes").scenarios if not audit_scenario(s)]
    assert len(scenarios) == 7
    runner = Runner(resolve(RunConfig(max_turns=60)), RunStore(tmp_path), "notes-leak")
    failures = []
    for scenario in scenarios:
        assert scenario.case.ehr is not None and scenario.case.ehr.hadm_id is not None
        sections = discharge_sections(texts[scenario.case.ehr.hadm_id])
        diagnoses = primary_diagnoses(sections.get("discharge diagnosis", ""))
        assert diagnoses
        matcher = NameMatcher(note_names(scenario.answer.diagnosis, diagnoses))
        doctor = ProbeDoctor(scenario)
        parts = runner.parts(scenario, scenario.id, 0)
        parts.doctor = doctor
        events = asyncio.run(run_encounter(parts))
        assert events[-1].kind == "episode_ended" and events[-1].reason == "diagnosed"
        seen = visible_texts(doctor, events) + [t for _, t in doctor_visible_text(scenario)]
        lines = {line for text in seen for line in text.split("\n")}
        named = [line for line in lines if matcher.found_in(line)]
        shown = " ".join(" ".join(text.split()) for text in seen)
        sealed = [line for line in _sealed_lines(sections) if line in shown]
        if named or sealed:
            failures.append((scenario.id, named[:1], sealed[:1]))
    assert failures == []
