"""Splitting MIMIC-IV-Note discharge summaries and radiology reports into what clinsim reads."""

from __future__ import annotations

import pytest

from clinsim.scenarios.mimic_note_files import Note
from clinsim.scenarios.mimic_notes import (
    imaging_test_name,
    patient_voice,
    primary_diagnoses,
    read_story,
)
from clinsim.scenarios.note_sections import (
    EXPOSED,
    admission_exam,
    discharge_sections,
    is_placeholder,
    items,
    radiology_sections,
)

# MIMIC separates sections with lines of one space ("|" below).
NOTE = """|
Name:  ___                     Unit No:   ___
|
Admission Date:  ___              Discharge Date:   ___
|
Date of Birth:  ___             Sex:   M
|
Service: MEDICINE
|
Allergies:
Penicillins / Codeine
|
Attending: ___.
|
Chief Complaint:
Chest pain
|
Major Surgical or Invasive Procedure:
Cardiac catheterization SEALED-PROCEDURE
|
History of Present Illness:
Mr. ___ is a ___ year old man who presents with chest pain
for two days.
|
Past Medical History:
PAST MEDICAL HISTORY:
- Hypertension
PAST SURGICAL HISTORY:
- Appendectomy
|
Social History:
___
Family History:
Father with a heart attack at 60.
|
Physical Exam:
ADMISSION PHYSICAL EXAM:
VS: 98.1 150/90 88 16 98% RA
CV: regular
DISCHARGE PHYSICAL EXAM:
CV: SEALED-DISCHARGE-EXAM
|
Pertinent Results:
Troponin SEALED-RESULTS
|
Brief Hospital Course:
SEALED-COURSE
Allergies: SEALED-STRAY-ALLERGY
Chief Complaint: SEALED-STRAY-COMPLAINT
|
Medications on Admission:
1. Aspirin 81 mg PO DAILY
|
Discharge Meds:
SEALED-UNLISTED-HEADING
|
Discharge Diagnosis:
Primary: SEALED-DIAGNOSIS
|
Discharge Instructions:
Family History: SEALED-STRAY-FAMILY
""".replace("|\n", " \n")


def test_discharge_sections_follow_the_headings() -> None:
    sections = discharge_sections(NOTE)
    assert sections["chief complaint"] == "Chest pain"
    assert sections["allergies"] == "Penicillins / Codeine"
    assert sections["history of present illness"].startswith("Mr. ___ is a ___ year old man")
    assert "- Hypertension" in sections["past medical history"]
    assert sections["past surgical history"] == "- Appendectomy"
    assert sections["social history"] == "___"
    assert sections["medications on admission"] == "1. Aspirin 81 mg PO DAILY"
    assert sections["discharge diagnosis"] == "Primary: SEALED-DIAGNOSIS"
    assert sections["discharge meds"] == "SEALED-UNLISTED-HEADING"


def test_no_sealed_text_lands_in_an_exposed_section() -> None:
    sections = discharge_sections(NOTE)
    exposed = "\n".join(v for k, v in sections.items() if k in EXPOSED)
    assert "SEALED" not in exposed
    assert sections["discharge physical exam"] == "CV: SEALED-DISCHARGE-EXAM"
    assert "Chief Complaint: SEALED-STRAY-COMPLAINT" in sections["brief hospital course"]


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        ("ADMISSION PHYSICAL EXAM:\nGen: A\nDISCHARGE PHYSICAL EXAM:\nGen: B", "Gen: A", "B"),
        ("Admission:\nLungs: A\n\nDischarge:\nLungs: B", "Lungs: A", "B"),
        ("ON ADMISSION:\nAbd: A\nON DISCHARGE:\nAbd: B", "Abd: A", "B"),
        ("=== ADMISSION ===\nExt: A\n=== DISCHARGE ===\nExt: B", "Ext: A", "B"),
        ("PHYSICAL EXAM ON ADMISSION:\nCV: A\nPHYSICAL EXAM ON DISCHARGE:\nCV: B", "CV: A", "B"),
        ("Discharge exam: Neuro: B\nAdmission exam: Neuro: A", "Neuro: A", "B"),
        ("VS: 98 120/80\nGen: A", "Gen: A", "nothing"),
        ("Admission weight 80 kg\nGen: A", "Admission weight 80 kg", "nothing"),
    ],
)
def test_admission_exam_keeps_only_the_admission_part(text: str, kept: str, dropped: str) -> None:
    exam = admission_exam(text)
    assert kept in exam
    assert f": {dropped}" not in exam


def test_a_discharge_only_exam_gives_no_admission_exam() -> None:
    assert admission_exam("DISCHARGE EXAM:\nGen: comfortable") == ""


def test_items_split_lists_and_join_wrapped_lines() -> None:
    text = (
        "1. Heart failure, EF 55% (___)\n2. Colon cancer s/p colectomy and later\n"
        "takedown ___\nGERD\nFather died of heart disease at\n60. Mother well.\n\n"
        "- Tobacco: 1 ppd\n___\n"
    )
    assert items(text) == [
        "Heart failure, EF 55% (___)",
        "Colon cancer s/p colectomy and later takedown ___",
        "GERD",
        "Father died of heart disease at 60. Mother well.",
        "Tobacco: 1 ppd ___",
    ]
    assert items("___\n\n___.") == []
    assert is_placeholder(" ___. ") and not is_placeholder("___ pack-years")


def test_radiology_sections_and_test_names() -> None:
    report = (
        "EXAMINATION:  CHEST (PA AND LAT)\n\nINDICATION:  cough // pneumonia?\n\n"
        "FINDINGS: \n\nClear lungs.\n\nIMPRESSION: \n\nNormal."
    )
    sections = radiology_sections(report)
    assert sections["examination"] == "CHEST (PA AND LAT)"
    assert sections["findings"] == "Clear lungs." and sections["impression"] == "Normal."
    assert "pneumonia" in sections["indication"]
    names = {
        "CHEST (PA AND LAT)": "Chest_X-ray",
        "CHEST (PORTABLE AP)": "Chest_X-ray",
        "CTA CHEST": "CT_Angiogram_Chest",
        "CT HEAD W/O CONTRAST": "CT_Head",
        "CT ABD & PELVIS WITH CONTRAST": "CT_Abdomen_and_Pelvis",
        "UNILAT LOWER EXT VEINS LEFT": "Lower_Extremity_Venous_Ultrasound",
        "LIVER OR GALLBLADDER US (SINGLE ORGAN)": "Abdominal_Ultrasound",
        "RENAL U.S.": "Renal_Ultrasound",
        "MR HEAD W & W/O CONTRAST": "MRI_Brain",
        "SHOULDER (AP, NEUTRAL AND AXILLARY) RIGHT": "Shoulder_X-ray",
        "BONE SCAN": "Bone_Scan",
    }
    assert {exam: imaging_test_name(exam) for exam in names} == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("PRIMARY DIAGNOSIS:\n- Pneumonia\n\nSECONDARY DIAGNOSES:\n- HTN", ("Pneumonia",)),
        ("Primary: NSTEMI\nSecondary: GERD", ("NSTEMI",)),
        ("Ascites from portal hypertension", ("Ascites from portal hypertension",)),
        (
            "PRIMARY DIAGNOSIS\nCOPD exacerbation\nHypoxia\nSECONDARY DIAGNOSIS\nAF",
            ("COPD exacerbation", "Hypoxia"),
        ),
        ("Primary diagnoses:\n1. Sepsis\n2. UTI\nSecondary diagnoses:\n1. DM", ("Sepsis", "UTI")),
        ("___", ()),
    ],
)
def test_primary_discharge_diagnoses(text: str, names: tuple[str, ...]) -> None:
    assert primary_diagnoses(text) == names


def test_patient_voice_makes_the_subject_plain() -> None:
    text = "Ms. ___ is a ___ y/o woman with HTN. Pt reports pain. Dr. ___ saw her."
    assert patient_voice(text, 80) == (
        "The patient is an 80-year-old woman with HTN. The patient reports pain. Dr. ___ saw her."
    )
    assert patient_voice("Mr. ___ is a ___ year old man.", None) == (
        "The patient is a ___ year old man."
    )


def _note(text: str) -> Note:
    from datetime import datetime

    return Note("f", 1, "1-DS-1", 1, 2, "DS", 1, datetime(2100, 1, 1), text)


def test_a_story_reads_only_the_exposed_sections() -> None:
    story = read_story(_note(NOTE), 61)
    assert story.patient["symptoms"] == {"Primary_Symptom": "Chest pain"}
    assert story.patient["history"] == (
        "The patient is a 61-year-old man who presents with chest pain for two days."
    )
    assert story.patient["past_medical_history"] == ["Hypertension", "Appendectomy"]
    assert "social_history" not in story.patient  # "___" only
    assert story.patient["allergies"] == ["Penicillins", "Codeine"]
    assert story.exam == {"Cardiovascular_Exam": "regular"}
    assert story.vitals_line == "98.1 150/90 88 16 98% RA"
    assert story.diagnoses == ("SEALED-DIAGNOSIS",)
    assert "SEALED" not in repr((story.patient, story.exam, story.vitals_line))


def test_the_emergency_department_course_and_review_of_systems() -> None:
    hpi = (
        "History of Present Illness:\nShe has had a cough for 3 days. She denies fever.\n"
        "In the ED, initial vitals were 98 100 120/80. CXR showed an opacity.\n\n"
        "ROS: positive for cough, negative for rash.\n\nOn the floor she felt better.\n"
        "Past Medical History:\nAsthma\n"
    )
    story = read_story(_note(hpi), 40)
    assert story.patient["history"] == "She has had a cough for 3 days. She denies fever."
    assert story.patient["review_of_systems"] == "positive for cough, negative for rash."
    no_allergy = read_story(_note("Allergies: \nNo Known Allergies / Adverse Drug Reactions"), 1)
    assert no_allergy.patient["allergies"] == "No known allergies."
