"""`build-mimic --notes`: MIMIC-IV-Note discharge summaries and radiology reports as cases.

Built on the bundled synthetic notes (MIMIC-IV-Note's schema and headings, ten admissions of the
MIMIC-IV demo) and on malformed copies of them.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from clinsim.cli import ehr_scenarios
from clinsim.environments.ehr.demo import default_ehr_for, demo_ehr_path
from clinsim.scenarios.audit import audit_scenario
from clinsim.scenarios.mimic import MimicScenarioError, build_mimic
from clinsim.scenarios.mimic_note_files import NOTE_COLUMNS
from clinsim.scenarios.note_sections import EXPOSED, discharge_sections
from clinsim.scenarios.sets import demo_notes_dir, get_set, load_report

ROOT = Path(__file__).resolve().parents[2]
FLAGGED = {"28295257", "27993466", "20973395"}
HEADER_KEYS = {"", "name", "admission date", "date of birth", "sex", "service", "attending"}


@pytest.fixture(scope="module")
def ehr_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    os.environ.setdefault("CLINSIM_CACHE", str(tmp_path_factory.mktemp("cache")))
    return demo_ehr_path()


def read_rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(
    path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = NOTE_COLUMNS
) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))


def copy_notes(tmp_path: Path) -> tuple[Path, list[dict[str, str]], list[dict[str, str]]]:
    notes = tmp_path / "mimic-iv-note"
    discharge = read_rows(demo_notes_dir() / "note" / "discharge.csv.gz")
    radiology = read_rows(demo_notes_dir() / "note" / "radiology.csv.gz")
    write_rows(notes / "note" / "discharge.csv.gz", discharge)
    write_rows(notes / "note" / "radiology.csv.gz", radiology)
    return notes, discharge, radiology


def flat(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- the synthetic notes


def test_the_bundled_notes_are_what_their_sources_give() -> None:
    spec = importlib.util.spec_from_file_location(
        "build_demo_notes", ROOT / "scripts" / "build_demo_notes.py"
    )
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for path, data in script.build().items():
        assert path.read_bytes() == data, f"{path} is stale: run scripts/build_demo_notes.py"


def test_the_synthetic_notes_have_mimic_iv_notes_schema_and_real_admissions(ehr_db: Path) -> None:
    with duckdb.connect(str(ehr_db), read_only=True) as con:
        admissions = dict(con.execute("SELECT hadm_id, subject_id FROM admissions").fetchall())
    for name in ("discharge", "radiology"):
        path = demo_notes_dir() / "note" / f"{name}.csv.gz"
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            assert tuple(next(csv.reader(handle))) == NOTE_COLUMNS
        for row in read_rows(path):
            assert row["note_id"] == f"{row['subject_id']}-{row['note_type']}-{row['note_seq']}"
            if row["hadm_id"]:
                assert admissions[int(row["hadm_id"])] == int(row["subject_id"])
    discharge = read_rows(demo_notes_dir() / "note" / "discharge.csv.gz")
    assert len({row["hadm_id"] for row in discharge}) == 10
    for row in discharge:
        sections = discharge_sections(row["text"])
        assert {"chief complaint", "history of present illness", "physical exam"} <= set(sections)
        assert {"brief hospital course", "discharge diagnosis", "discharge instructions"} <= set(
            sections
        )


# ---------------------------------------------------------------- the cases


def test_notes_tell_the_story_of_each_case(ehr_db: Path) -> None:
    build = build_mimic(ehr_db, ehr_scenarios.DEMO_NOTES_INFO, notes_dir=demo_notes_dir())
    assert len(build.scenarios) == 10
    assert all("mimic-iv-note" in s.case.tags for s in build.scenarios)
    case = next(s for s in build.scenarios if s.id == "mimic-iv-demo-notes/22954658").case
    assert case.patient.symptoms == {"Primary_Symptom": "Chest pain"}
    assert str(case.patient.history).startswith("The patient is a 48-year-old man with GERD")
    assert "Tobacco: smokes 1 pack per day for 25 years." in json.dumps(case.patient.social_history)
    assert case.exam["Cardiovascular_Exam"].startswith("regular rate and rhythm")  # type: ignore[union-attr]
    assert case.exam["Vital_Signs"]["Admission_Note"] == "98.0 158/92 82 16 97% RA"  # type: ignore[index,call-overload]
    imaging = case.tests["Imaging"]
    assert list(imaging) == ["Chest_X-ray", "CT_Angiogram_Chest"]  # type: ignore[arg-type]
    dumped = case.model_dump_json()
    assert "interstitial pulmonary edema" not in dumped  # report of day 3: after the 48 hours
    assert "dense calcification" not in dumped  # an addendum
    assert "INDICATION" not in dumped and "eval for acute" not in dumped
    heart = next(s for s in build.scenarios if s.id == "mimic-iv-demo-notes/25973915")
    assert "Mild cardiomegaly" not in heart.case.model_dump_json()  # a report with no admission
    assert default_ehr_for(heart) == ehr_db


def test_sealed_sections_never_reach_the_case(ehr_db: Path) -> None:
    build = build_mimic(ehr_db, ehr_scenarios.DEMO_NOTES_INFO, notes_dir=demo_notes_dir())
    by_hadm = {s.case.ehr.hadm_id: flat(s.model_dump_json()) for s in build.scenarios if s.case.ehr}
    checked = 0
    for row in read_rows(demo_notes_dir() / "note" / "discharge.csv.gz"):
        case = by_hadm[int(row["hadm_id"])]
        for key, text in discharge_sections(row["text"]).items():
            if key in EXPOSED or key in HEADER_KEYS:
                continue
            for line in text.splitlines():
                if len(line.split()) >= 4:
                    assert flat(line) not in case, (row["note_id"], key, line)
                    checked += 1
    assert checked > 100


def test_cases_that_name_their_diagnosis_are_tagged_and_flagged(ehr_db: Path) -> None:
    build = build_mimic(ehr_db, ehr_scenarios.DEMO_NOTES_INFO, notes_dir=demo_notes_dir())
    tagged = {s.id.split("/")[1] for s in build.scenarios if "diagnosis-in-note" in s.case.tags}
    assert tagged == FLAGGED
    assert build.leaks["mimic-iv-demo-notes/20973395"] == [
        "case.tests.Imaging.CT_Abdomen_and_Pelvis.Impression"
    ]
    assert build.leaks["mimic-iv-demo-notes/28295257"] == ["case.patient.history"]
    for scenario in build.scenarios:
        kinds = {f.kind for f in audit_scenario(scenario)}
        assert ("diagnosis-in-note" in kinds) == (scenario.id.split("/")[1] in FLAGGED)
        assert kinds <= {"diagnosis-in-note"}


def test_no_stray_heading_or_discharge_text_exposes_what_follows(
    ehr_db: Path, tmp_path: Path
) -> None:
    notes, discharge, _ = copy_notes(tmp_path)
    row = next(r for r in discharge if r["hadm_id"] == "22954658")
    row["text"] = (
        row["text"]
        .replace(
            "Brief Hospital Course:\n",
            "Brief Hospital Course:\nMARKER-ONE course.\nAllergies: MARKER-TWO\n"
            "Chief Complaint: MARKER-THREE\nSocial History: MARKER-FOUR\n",
        )
        .replace(
            "Discharge Instructions:\n",
            "Discharge Instructions:\nFamily History: MARKER-FIVE\nPhysical Exam: MARKER-SIX\n",
        )
        .replace("Discharge:\nVS: 98.3", "Discharge:\nNeuro: MARKER-SEVEN\nVS: 98.3")
        .replace(
            "Discharge Medications:",
            "Discharge Meds at home:\nMARKER-EIGHT\nDischarge Medications:",
        )
    )
    write_rows(notes / "note" / "discharge.csv.gz", discharge)
    build = build_mimic(ehr_db, ehr_scenarios.DEMO_NOTES_INFO, notes_dir=notes)
    dumped = " ".join(s.model_dump_json() for s in build.scenarios)
    assert "MARKER" not in dumped
    assert len(build.scenarios) == 10


def test_the_command_builds_the_bundled_set(ehr_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "notes.jsonl"
    args = ["--ehr", str(ehr_db), "--notes", str(demo_notes_dir()), "--out", str(out)]
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 0, result.output
    assert "wrote 10 scenarios" in result.stdout
    assert out.read_bytes() == get_set("mimic-iv-demo-notes").path.read_bytes()
    assert "mimic-iv-demo-notes/20973395: tagged diagnosis-in-note" in result.stderr
    report = load_report("mimic-iv-demo-notes")
    assert (
        report.ok
        and report.scenarios[0].provenance.license == get_set("mimic-iv-demo-notes").license
    )


def app():  # type: ignore[no-untyped-def]
    typer_app = ehr_scenarios.typer.Typer()
    typer_app.command()(ehr_scenarios.build_mimic_command)
    return typer_app


# ---------------------------------------------------------------- malformed files


def test_bad_rows_are_named_and_the_rest_builds(ehr_db: Path, tmp_path: Path) -> None:
    notes, discharge, _ = copy_notes(tmp_path)
    template = dict(discharge[0])
    bad = [
        {**template, "note_id": "X-1", "hadm_id": "99999999"},  # unknown admission
        {**template, "note_id": "X-2", "hadm_id": "22954658"},  # another patient's
        {**template, "note_id": "X-3", "subject_id": "abc"},
        {**template, "note_id": "X-4", "charttime": "yesterday"},
        {**template, "note_id": "X-5", "text": "  "},
        {**template, "note_id": "X-6", "subject_id": "1", "hadm_id": "2"},  # not in the EHR
    ]
    write_rows(notes / "note" / "discharge.csv.gz", discharge + bad)
    result = CliRunner().invoke(
        app(), ["--ehr", str(ehr_db), "--notes", str(notes), "--out", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 10 scenarios" in result.stdout
    file = str(notes / "note" / "discharge.csv.gz")
    subject = template["subject_id"]
    expected = [
        f"{file}, row 11: note X-1: hadm_id 99999999 is not an admission of subject {subject} in the EHR",
        f"{file}, row 12: note X-2: hadm_id 22954658 belongs to subject 10007058, not {subject}",
        f"{file}, row 13: field subject_id: not an integer: 'abc'",
        f"{file}, row 14: field charttime: not a date and time: 'yesterday'",
        f"{file}, row 15: field text: empty",
    ]
    for line in expected:
        assert f"warning: {line}" in result.stderr
    assert f"{file}: skipped 1 of patients not in the EHR" in result.stderr


def test_an_unreadable_radiology_file_loses_only_the_imaging(ehr_db: Path, tmp_path: Path) -> None:
    notes, _, _ = copy_notes(tmp_path)
    (notes / "note" / "radiology.csv.gz").write_text("EXAMINATION: not gzip\n")
    build = build_mimic(ehr_db, notes_dir=notes)
    assert len(build.scenarios) == 10
    assert all("Imaging" not in s.case.tests for s in build.scenarios)
    assert build.notes is not None
    (problem,) = build.notes.problems
    assert str(problem).startswith(
        f"{notes / 'note' / 'radiology.csv.gz'}: cannot read the file (BadGzipFile"
    )


def test_a_radiology_file_without_its_columns_is_named(ehr_db: Path, tmp_path: Path) -> None:
    notes, _, radiology = copy_notes(tmp_path)
    columns = tuple(c for c in NOTE_COLUMNS if c != "hadm_id")
    write_rows(notes / "note" / "radiology.csv.gz", radiology, columns)
    build = build_mimic(ehr_db, notes_dir=notes)
    assert build.notes is not None and len(build.scenarios) == 10
    (problem,) = build.notes.problems
    assert problem.row is None
    assert re.match(
        r".*radiology\.csv\.gz: missing columns hadm_id \(found: note_id, subject_id, note_type",
        str(problem),
    )


def test_a_truncated_discharge_file_keeps_the_rows_before_the_break(
    ehr_db: Path, tmp_path: Path
) -> None:
    notes, _, _ = copy_notes(tmp_path)
    path = notes / "note" / "discharge.csv.gz"
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) * 2 // 3])
    build = build_mimic(ehr_db, notes_dir=notes)
    assert build.notes is not None
    (problem,) = build.notes.problems
    assert problem.file == str(path) and problem.row is not None
    assert "cannot read the file" in problem.message
    assert 0 < len(build.scenarios) < 10


def test_a_discharge_file_that_gives_nothing_is_a_clear_error(ehr_db: Path, tmp_path: Path) -> None:
    notes, discharge, _ = copy_notes(tmp_path)
    columns = tuple(c for c in NOTE_COLUMNS if c != "text")
    write_rows(notes / "note" / "discharge.csv.gz", discharge, columns)
    with pytest.raises(
        MimicScenarioError,
        match=r"discharge\.csv\.gz: no usable discharge note .*missing columns text",
    ):
        build_mimic(ehr_db, notes_dir=notes)
    result = CliRunner().invoke(
        app(),
        [
            "--ehr",
            str(ehr_db),
            "--notes",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert result.exit_code == 2
    assert "nowhere: no such folder" in result.output
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        app(),
        [
            "--ehr",
            str(ehr_db),
            "--notes",
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert result.exit_code == 2 and "no note/discharge.csv.gz" in result.output


def test_limit_keeps_the_first_noted_admissions_and_parses_only_theirs(
    ehr_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clinsim.scenarios import mimic_note_cases

    parsed: list[str] = []
    real = mimic_note_cases.read_story

    def counting(note, age):  # type: ignore[no-untyped-def]
        parsed.append(note.note_id)
        return real(note, age)

    monkeypatch.setattr(mimic_note_cases, "read_story", counting)
    build = build_mimic(ehr_db, ehr_scenarios.DEMO_NOTES_INFO, limit=3, notes_dir=demo_notes_dir())
    whole = get_set("mimic-iv-demo-notes").path.read_text().splitlines()
    assert [s.model_dump_json() for s in build.scenarios] == whole[:3]
    assert sorted(parsed) == sorted({"10002428-DS-3", "10002428-DS-8", "10005909-DS-2"})
