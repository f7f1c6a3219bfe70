"""Synthetic but realistic report data: runs over shared scenarios, ~10-turn transcripts.

Used by the report tests and by bench/bench_report.py. Deterministic for a given seed.
"""

from __future__ import annotations

import base64
import io
import json
import random

from PIL import Image, ImageDraw

from clinsim.report import EpisodeTranscript, ImageAsset, ReportData, RunInfo, TranscriptEntry
from clinsim.report.assemble import assemble_report
from clinsim.report.transcripts import PROMPT_CHARS
from clinsim.stats import Outcome, Settings

DIAGNOSES = [
    "Community-acquired pneumonia",
    "Acute appendicitis",
    "Pulmonary embolism",
    "Diabetic ketoacidosis",
    "Myasthenia gravis",
    "Infective endocarditis",
    "Acute pancreatitis",
    "Giant cell arteritis",
    "Hyperthyroidism (Graves disease)",
    "Testicular torsion",
    "Subarachnoid hemorrhage",
    "Sarcoidosis",
]
QUESTIONS = [
    "When did the symptoms start, and have they changed since?",
    "Do you have any fever, chills or night sweats?",
    "Have you noticed shortness of breath or chest pain?",
    "Any recent travel, surgery or long periods of immobility?",
    "What medications do you take, and any allergies?",
    "Does anything make the pain better or worse?",
    "Any nausea, vomiting or change in bowel habits?",
    "Has anyone in your family had similar problems?",
]
ANSWERS = [
    "It started about three days ago and has been getting worse, especially at night.",
    "I've had chills and felt feverish, but I haven't measured my temperature.",
    "I get short of breath climbing stairs, and there's a sharp pain when I breathe in.",
    "I flew back from a conference last week, about eleven hours in the air.",
    "Only lisinopril for blood pressure. I'm allergic to penicillin, it gives me a rash.",
    "Lying still helps a little; moving or coughing makes it much worse.",
    "I felt sick yesterday and vomited twice, no diarrhoea.",
    "My mother had a blood clot in her leg when she was about fifty.",
]
TESTS = [
    ("Complete blood count", "WBC 14.2 x10^9/L (high), Hb 13.1 g/dL, platelets 250 x10^9/L"),
    ("Chest X-ray", "Right lower lobe consolidation with air bronchograms; no effusion."),
    ("D-dimer", "1.8 mg/L FEU (raised)"),
    ("Basic metabolic panel", "Na 138, K 4.1, Cl 101, HCO3 18 (low), glucose 412 mg/dL (high)"),
    ("Lipase", "1,240 U/L (high)"),
    ("ECG", "Sinus tachycardia 112/min, S1Q3T3 pattern, no ST elevation."),
]
REASONS = ["diagnosed"] * 8 + ["turn_limit", "budget_exhausted", "protocol_error"]


def _image(seed: int) -> ImageAsset:
    rng = random.Random(seed)
    img = Image.new("L", (160, 160), 20)
    draw = ImageDraw.Draw(img)
    for _ in range(30):
        x, y, r = rng.randint(0, 160), rng.randint(0, 160), rng.randint(4, 30)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.randint(60, 230))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return ImageAsset(
        src="data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
        caption=f"synthetic chest X-ray {seed}",
    )


def _transcript(
    rng: random.Random,
    run: str,
    reference: str,
    diagnosis: str | None,
    correct: bool,
    reason: str,
    turns: int,
) -> list[TranscriptEntry]:
    e: list[TranscriptEntry] = [
        TranscriptEntry(
            turn=0,
            actor="system",
            kind="start",
            text="scenario started",
            data={"agents": {"doctor": run}},
        )
    ]

    def model(turn: int, role: str, output: str) -> None:
        if run == "baseline":
            return  # the baseline doctor and the fact patient call no model
        prompt = (
            "Patient: " + rng.choice(ANSWERS) + "\nWhat is your next action?"
            if role == "doctor"
            else "You are the patient. Answer only from your case, in plain words. "
            + " ".join(rng.sample(ANSWERS, 5))
            + "\nDoctor: "
            + rng.choice(QUESTIONS)
        )
        e.append(
            TranscriptEntry(
                turn=turn,
                actor="doctor" if role == "doctor" else "patient",
                kind="model_call",
                text=output,
                data={
                    "role": role,
                    "model": f"openai/{run.split()[0]}",
                    "tokens": rng.randint(400, 3000),
                    "latency_s": round(rng.uniform(0.3, 4.0), 2),
                    "prompt": prompt[-PROMPT_CHARS:],
                    "messages": 2 * turn + 1,
                },
            )
        )

    for turn in range(1, turns):
        kind = rng.random()
        if kind < 0.55:
            q = rng.choice(QUESTIONS)
            model(turn, "doctor", json.dumps({"action": "ask_patient", "question": q}))
            e.append(TranscriptEntry(turn=turn, actor="doctor", kind="question", text=q))
            a = rng.choice(ANSWERS)
            model(turn, "patient", a)
            e.append(TranscriptEntry(turn=turn, actor="patient", kind="answer", text=a))
        elif kind < 0.8:
            test, result = rng.choice(TESTS)
            model(turn, "doctor", json.dumps({"action": "order_test", "test": test}))
            e.append(
                TranscriptEntry(
                    turn=turn,
                    actor="doctor",
                    kind="test_order",
                    text=f"orders {test}",
                    data={"test": test, "cost": 35.0},
                )
            )
            e.append(
                TranscriptEntry(
                    turn=turn,
                    actor="measurement",
                    kind="test_result",
                    text=result,
                    data={"test": test, "available": True},
                )
            )
        elif kind < 0.93:
            sql = "SELECT label, valuenum, charttime FROM labs WHERE label = 'Lactate' ORDER BY charttime"
            model(turn, "doctor", json.dumps({"tool": "query_ehr", "arguments": {"sql": sql}}))
            e.append(
                TranscriptEntry(
                    turn=turn,
                    actor="doctor",
                    kind="tool_call",
                    text="query_ehr",
                    data={"tool": "query_ehr", "arguments": {"sql": sql}},
                )
            )
            rows = [
                ["Lactate", round(rng.uniform(0.8, 4.5), 1), f"2180-05-0{d} 08:00"]
                for d in range(1, 5)
            ]
            e.append(
                TranscriptEntry(
                    turn=turn,
                    actor="tool",
                    kind="tool_result",
                    text="4 rows",
                    data={"tool": "query_ehr", "data": rows},
                )
            )
        else:
            key = f"img{rng.randint(0, 3)}"
            e.append(
                TranscriptEntry(
                    turn=turn,
                    actor="doctor",
                    kind="tool_call",
                    text="read_image",
                    data={"tool": "read_image", "arguments": {"image_id": key}},
                )
            )
            e.append(
                TranscriptEntry(
                    turn=turn,
                    actor="system",
                    kind="image",
                    text=f"{key} (chest x-ray)",
                    images=[key],
                )
            )
    if diagnosis is not None:
        model(turns, "doctor", json.dumps({"action": "submit_diagnosis", "diagnosis": diagnosis}))
        e.append(
            TranscriptEntry(
                turn=turns,
                actor="doctor",
                kind="diagnosis",
                text=diagnosis,
                data={"differential": rng.sample(DIAGNOSES, 2)},
            )
        )
        verdict = "correct" if correct else "incorrect"
        e.append(
            TranscriptEntry(
                turn=turns,
                actor="judge",
                kind="verdict",
                text=f"{verdict} (rules): {'names' if correct else 'does not name'} {reference}",
                data={"judge": "rules", "correct": correct},
            )
        )
    e.append(
        TranscriptEntry(
            turn=turns, actor="system", kind="end", text=reason, data={"reason": reason}
        )
    )
    return e


def synthetic_outcomes(
    runs: dict[str, float],
    scenarios: int,
    trials: int = 1,
    seed: int = 0,
    with_transcripts: bool = True,
) -> tuple[list[Outcome], list[EpisodeTranscript]]:
    """`runs` maps a run label to its chance of a right answer; every run plays every scenario."""
    rng = random.Random(seed)
    outcomes, transcripts = [], []
    for r, (run, skill) in enumerate(runs.items()):
        for s in range(scenarios):
            reference = DIAGNOSES[s % len(DIAGNOSES)]
            scenario_set = "agentclinic-medqa" if s % 3 else "mimic-iv-demo"
            for t in range(trials):
                correct = rng.random() < skill
                reason = "diagnosed" if correct else rng.choice(REASONS)
                diagnosis = (
                    reference
                    if correct
                    else (rng.choice(DIAGNOSES) if reason == "diagnosed" else None)
                )
                turns = rng.randint(4, 14) if reason != "turn_limit" else 20
                tests = rng.randint(0, 4)
                eid = f"{scenario_set}/{s:04d}" + (f"#{t}" if trials > 1 else "")
                outcomes.append(
                    Outcome(
                        run=run,
                        scenario_id=f"{scenario_set}/{s:04d}",
                        scenario_set=scenario_set,
                        trial=t,
                        correct=correct,
                        termination=reason,
                        cost=tests * 35.0 + (r * 40.0),
                        turns=turns,
                        tests=tests,
                        tool_calls=(calls := rng.randint(0, 3)),
                        tools={"query_ehr": calls} if calls else {},
                        diagnosis=diagnosis,
                        reference=reference,
                        episode_id=eid,
                        tags={"specialty": ["cardiology", "respiratory", "endocrine"][s % 3]},
                    )
                )
                if with_transcripts:
                    transcripts.append(
                        EpisodeTranscript(
                            run=run,
                            episode_id=eid,
                            entries=_transcript(
                                rng, run, reference, diagnosis, correct, reason, min(turns, 11)
                            ),
                        )
                    )
    return outcomes, transcripts


def synthetic_report(
    runs: dict[str, float] | None = None, scenarios: int = 24, trials: int = 1, seed: int = 0
) -> ReportData:
    runs = runs or {"baseline": 0.25, "medgemma-27b": 0.55}
    outcomes, transcripts = synthetic_outcomes(runs, scenarios, trials, seed)
    infos = [
        RunInfo(
            run=run,
            config={
                "doctor": "baseline" if run == "baseline" else f"openai/{run}",
                "patient": "facts",
                "judges": ["rules"],
                "max_turns": 20,
                "seed": seed,
                "trials": trials,
                "sources": ["agentclinic-medqa", "mimic-iv-demo"],
                "budget": None if i == 0 else 200.0 * i,
            },
            created="2026-11-02T10:00:00",
        )
        for i, run in enumerate(runs)
    ]
    images = {f"img{i}": _image(i) for i in range(4)}
    return assemble_report(
        infos,
        outcomes,
        transcripts,
        images,
        title="Synthetic study",
        settings=Settings(resamples=1000),
    )
