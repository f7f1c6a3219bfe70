"""Write scenarios/data/demo.jsonl: a few synthetic cases in clinsim's own format."""

from __future__ import annotations

from pathlib import Path

from clinsim.scenarios.model import AnswerKey, Case, PatientFacts, Provenance, Scenario

OUT = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "demo.jsonl"
PROV = dict(source="demo", file="demo.jsonl", license="MIT", attribution="clinsim (synthetic)")


def case(
    n: int, objective: str, patient: dict, exam: dict, tests: dict, dx: str, syn: list[str]
) -> Scenario:
    return Scenario(
        id=f"demo/{n:04d}",
        format="clinsim",
        case=Case(objective=objective, patient=PatientFacts(**patient), exam=exam, tests=tests),
        answer=AnswerKey(diagnosis=dx, synonyms=syn),
        provenance=Provenance(record=n, **PROV),
    )


CASES = [
    case(
        1,
        "Evaluate and diagnose the patient presenting with fever, productive cough and pleuritic chest pain.",
        dict(
            demographics="67-year-old man",
            history="Three days of fever, shaking chills and a cough productive of rust-coloured sputum. Sharp right-sided chest pain when breathing in.",
            symptoms={
                "Primary_Symptom": "Productive cough",
                "Secondary_Symptoms": [
                    "Fever",
                    "Chills",
                    "Pleuritic chest pain",
                    "Shortness of breath on exertion",
                ],
            },
            past_medical_history="Type 2 diabetes, hypertension.",
            social_history="Smoked 30 pack-years, quit 5 years ago. Drinks two beers a week. Retired bus driver.",
            medications=["Metformin 1000 mg twice daily", "Lisinopril 10 mg daily"],
            review_of_systems="No leg swelling, no haemoptysis, no recent travel.",
        ),
        {
            "Vital_Signs": {
                "Temperature": "39.1°C",
                "Blood_Pressure": "128/76 mmHg",
                "Heart_Rate": "104 bpm",
                "Respiratory_Rate": "24/min",
                "Oxygen_Saturation": "91% on room air",
            },
            "Chest_Examination": "Dullness to percussion and bronchial breath sounds over the right lower zone; coarse crackles.",
        },
        {
            "Blood_Tests": {
                "WBC": "16.2 x10^9/L, neutrophilia",
                "CRP": "182 mg/L",
                "Urea": "6.1 mmol/L",
            },
            "Chest_X-Ray": "Dense right lower lobe consolidation with air bronchograms.",
            "Sputum_Culture": "Gram-positive lancet-shaped diplococci.",
        },
        "Community-acquired pneumonia",
        ["Pneumonia", "Pneumococcal pneumonia", "Lobar pneumonia", "Right lower lobe pneumonia"],
    ),
    case(
        2,
        "Assess and diagnose the patient presenting with abdominal pain and vomiting.",
        dict(
            demographics="22-year-old woman",
            history="Pain began around the belly button yesterday evening and has moved to the lower right side. She vomited twice and does not want to eat.",
            symptoms={
                "Primary_Symptom": "Right lower quadrant abdominal pain",
                "Secondary_Symptoms": ["Nausea", "Vomiting", "Loss of appetite", "Low-grade fever"],
            },
            past_medical_history="None.",
            social_history="University student, non-smoker, occasional alcohol.",
            medications="Combined oral contraceptive pill.",
            review_of_systems="Last menstrual period two weeks ago, normal. No dysuria, no diarrhoea.",
        ),
        {
            "Vital_Signs": {
                "Temperature": "37.9°C",
                "Heart_Rate": "98 bpm",
                "Blood_Pressure": "118/72 mmHg",
            },
            "Abdominal_Examination": "Tenderness and guarding at McBurney's point; positive Rovsing and psoas signs.",
        },
        {
            "Blood_Tests": {"WBC": "13.8 x10^9/L", "CRP": "48 mg/L"},
            "Urine_Pregnancy_Test": "Negative",
            "Urinalysis": "No leucocytes, no nitrites, no blood.",
            "Ultrasound_Abdomen": "Non-compressible tubular structure of 9 mm in the right iliac fossa with surrounding fat stranding.",
        },
        "Acute appendicitis",
        ["Appendicitis"],
    ),
    case(
        3,
        "Evaluate and diagnose the patient presenting with vomiting, abdominal pain and confusion.",
        dict(
            demographics="19-year-old man",
            history="Two days of vomiting and diffuse abdominal pain; he has been very thirsty and passing a lot of urine for a week. His flatmate says he has become drowsy.",
            symptoms={
                "Primary_Symptom": "Vomiting",
                "Secondary_Symptoms": [
                    "Abdominal pain",
                    "Excessive thirst",
                    "Frequent urination",
                    "Drowsiness",
                    "Weight loss",
                ],
            },
            past_medical_history="Diagnosed with type 1 diabetes at age 12; ran out of insulin four days ago.",
            social_history="Student, lives with flatmates. No drugs.",
            medications=["Insulin glargine", "Insulin aspart with meals"],
            review_of_systems="No cough, no urinary pain, no diarrhoea.",
        ),
        {
            "Vital_Signs": {
                "Temperature": "36.8°C",
                "Heart_Rate": "118 bpm",
                "Blood_Pressure": "102/64 mmHg",
                "Respiratory_Rate": "28/min, deep sighing breaths",
            },
            "General": "Dry mucous membranes, fruity odour on the breath, drowsy but rousable.",
        },
        {
            "Blood_Tests": {
                "Glucose": "32 mmol/L",
                "Beta-hydroxybutyrate": "6.4 mmol/L",
                "Potassium": "5.6 mmol/L",
                "Sodium": "131 mmol/L",
            },
            "Arterial_Blood_Gas": {"pH": "7.08", "Bicarbonate": "8 mmol/L", "Anion_Gap": "28"},
            "Urinalysis": "Glucose 4+, ketones 3+.",
        },
        "Diabetic ketoacidosis",
        ["DKA"],
    ),
    case(
        4,
        "Assess and diagnose the patient presenting with sudden breathlessness.",
        dict(
            demographics="45-year-old woman",
            history="Sudden shortness of breath this morning with sharp left-sided chest pain on breathing in. She flew back from Australia four days ago.",
            symptoms={
                "Primary_Symptom": "Sudden shortness of breath",
                "Secondary_Symptoms": [
                    "Pleuritic chest pain",
                    "Swollen painful left calf",
                    "Light-headedness",
                ],
            },
            past_medical_history="None.",
            social_history="Non-smoker. Works as an accountant.",
            medications="Hormone replacement therapy.",
            review_of_systems="No fever, no cough, no haemoptysis.",
        ),
        {
            "Vital_Signs": {
                "Temperature": "37.2°C",
                "Heart_Rate": "112 bpm",
                "Blood_Pressure": "110/70 mmHg",
                "Respiratory_Rate": "26/min",
                "Oxygen_Saturation": "89% on room air",
            },
            "Leg_Examination": "Left calf 3 cm larger than the right, tender along the deep veins.",
            "Chest_Examination": "Clear lung fields.",
        },
        {
            "Blood_Tests": {"D-dimer": "3.8 mg/L (raised)", "Troponin": "Mildly raised"},
            "ECG": "Sinus tachycardia, S1Q3T3 pattern.",
            "Chest_X-Ray": "No consolidation.",
            "CT_Pulmonary_Angiogram": "Filling defects in the right and left lower lobe pulmonary arteries.",
        },
        "Pulmonary embolism",
        ["PE", "Acute pulmonary embolism"],
    ),
    case(
        5,
        "Evaluate and diagnose the patient presenting with tiredness and weight gain.",
        dict(
            demographics="52-year-old woman",
            history="Six months of tiredness, feeling cold all the time, constipation and 6 kg weight gain. Her skin is dry and her hair is thinning.",
            symptoms={
                "Primary_Symptom": "Fatigue",
                "Secondary_Symptoms": [
                    "Cold intolerance",
                    "Weight gain",
                    "Constipation",
                    "Dry skin",
                    "Heavy periods",
                ],
            },
            past_medical_history="Vitiligo.",
            social_history="Teacher. Non-smoker, no alcohol.",
            family_history="Her mother takes thyroxine.",
            medications="None.",
            review_of_systems="Low mood, slowed thinking. No chest pain.",
        ),
        {
            "Vital_Signs": {
                "Heart_Rate": "54 bpm",
                "Blood_Pressure": "138/88 mmHg",
                "Temperature": "36.1°C",
            },
            "General": "Puffy face, dry coarse skin, slow-relaxing ankle reflexes. Small, firm, non-tender goitre.",
        },
        {
            "Thyroid_Function_Tests": {"TSH": "38 mU/L", "Free_T4": "5 pmol/L"},
            "Thyroid_Peroxidase_Antibodies": "Strongly positive",
            "Lipid_Panel": {"Total_Cholesterol": "7.2 mmol/L"},
        },
        "Hashimoto thyroiditis",
        [
            "Hashimoto's thyroiditis",
            "Autoimmune hypothyroidism",
            "Hypothyroidism due to Hashimoto thyroiditis",
        ],
    ),
    case(
        6,
        "Assess and diagnose the patient presenting with tiredness and breathlessness on exertion.",
        dict(
            demographics="38-year-old woman",
            history="Four months of tiredness and getting breathless climbing stairs. Her periods have been very heavy for a year. She craves ice.",
            symptoms={
                "Primary_Symptom": "Fatigue",
                "Secondary_Symptoms": [
                    "Breathlessness on exertion",
                    "Heavy menstrual bleeding",
                    "Pica (ice)",
                    "Brittle nails",
                ],
            },
            past_medical_history="Fibroids found on a scan two years ago.",
            social_history="Vegetarian. Works as a nurse.",
            medications="None.",
            review_of_systems="No black stools, no weight loss.",
        ),
        {
            "Vital_Signs": {"Heart_Rate": "96 bpm", "Blood_Pressure": "112/70 mmHg"},
            "General": "Pale conjunctivae, spoon-shaped nails, angular cheilitis.",
        },
        {
            "Complete_Blood_Count": {
                "Hemoglobin": "8.4 g/dL",
                "MCV": "68 fL",
                "Platelets": "452 x10^9/L",
            },
            "Iron_Studies": {"Ferritin": "4 ng/mL", "Transferrin_Saturation": "5%"},
            "Blood_Film": "Microcytic hypochromic red cells with pencil cells.",
        },
        "Iron deficiency anemia",
        ["Iron deficiency anaemia", "Iron-deficiency anemia"],
    ),
]

TORSION = case(
    0,
    "Assess and diagnose the adolescent presenting with sudden scrotal pain.",
    dict(
        demographics="15-year-old boy",
        history="Woke up two hours ago with sudden severe pain in the left testicle that spreads to the lower abdomen. He has vomited once. No injury.",
        symptoms={
            "Primary_Symptom": "Sudden severe left testicular pain",
            "Secondary_Symptoms": ["Nausea", "Vomiting", "Lower abdominal pain"],
        },
        past_medical_history="Two short episodes of similar pain last year that settled on their own.",
        social_history="Lives with his parents; plays football. Not sexually active.",
        medications="None.",
        review_of_systems="No fever, no urinary symptoms, no penile discharge.",
    ),
    {
        "Vital_Signs": {
            "Temperature": "37.0°C",
            "Heart_Rate": "108 bpm",
            "Blood_Pressure": "132/78 mmHg",
        },
        "Genitourinary_Examination": "Left testis high-riding with a horizontal lie, exquisitely tender and swollen; absent cremasteric reflex on the left; elevating the testis does not ease the pain.",
    },
    {
        "Urinalysis": "Normal.",
        "Doppler_Ultrasound_Scrotum": "Absent blood flow in the left testis with a twisted spermatic cord (whirlpool sign).",
    },
    "Testicular torsion",
    ["Torsion of the testis", "Spermatic cord torsion"],
)
ASTHMA = case(
    0,
    "Evaluate and diagnose the young woman presenting with wheeze and breathlessness.",
    dict(
        demographics="24-year-old woman",
        history="Recurrent episodes of wheezing, chest tightness and cough, worse at night and after running in cold air, for six months. This episode started after a cold.",
        symptoms={
            "Primary_Symptom": "Wheezing",
            "Secondary_Symptoms": ["Shortness of breath", "Night-time cough", "Chest tightness"],
        },
        past_medical_history="Eczema and hay fever in childhood.",
        social_history="Never smoked. Has a cat. Works in a bakery.",
        family_history="Her father has hay fever.",
        medications="None.",
        review_of_systems="No fever, no weight loss, no leg swelling.",
    ),
    {
        "Vital_Signs": {
            "Heart_Rate": "98 bpm",
            "Respiratory_Rate": "22/min",
            "Oxygen_Saturation": "95% on room air",
        },
        "Chest_Examination": "Widespread expiratory wheeze, prolonged expiration, no crackles.",
    },
    {
        "Spirometry": "FEV1/FVC 0.62; FEV1 improves by 18% (420 mL) after inhaled salbutamol.",
        "Peak_Flow": "310 L/min (65% of predicted), varying more than 20% over two weeks of diary readings.",
        "Blood_Tests": {"Eosinophils": "0.6 x10^9/L (raised)", "Total_IgE": "Raised"},
        "Chest_X-Ray": "Hyperinflated lungs, otherwise clear.",
    },
    "Asthma",
    ["Bronchial asthma", "Asthma exacerbation", "Allergic asthma"],
)


def numbered(cases: list[Scenario]) -> list[Scenario]:
    out = []
    for n, scenario in enumerate(cases, start=1):
        provenance = scenario.provenance.model_copy(update={"record": n})
        out.append(scenario.model_copy(update={"id": f"demo/{n:04d}", "provenance": provenance}))
    return out


SPECIALTIES = {
    "Community-acquired pneumonia": "pulmonology",
    "Testicular torsion": "urology",
    "Acute appendicitis": "general surgery",
    "Asthma": "pulmonology",
    "Diabetic ketoacidosis": "endocrinology",
    "Pulmonary embolism": "pulmonology",
    "Hashimoto thyroiditis": "endocrinology",
    "Iron deficiency anemia": "hematology",
}
"""`specialty:NAME` tags: `clinsim show` and reports break results down by them."""


def tagged(scenario: Scenario) -> Scenario:
    tags = [f"specialty:{SPECIALTIES[scenario.answer.diagnosis]}"]
    return scenario.model_copy(update={"case": scenario.case.model_copy(update={"tags": tags})})


ORDERED = [tagged(s) for s in numbered([CASES[0], TORSION, CASES[1], ASTHMA, *CASES[2:]])]


if __name__ == "__main__":
    with OUT.open("w", encoding="utf-8") as handle:
        for scenario in ORDERED:
            handle.write(scenario.model_dump_json(exclude_none=True) + "\n")
    print(f"wrote {len(ORDERED)} scenarios to {OUT}")
