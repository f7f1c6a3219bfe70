"""Default findings vocabularies for zero-shot reading, one per imaging modality.

Used when the doctor does not name the labels to score. Modality names follow ImageRef
(`chest-xray`, `dermatology`, `fundus`, `histopathology`, `ct`, `mr`); common aliases map to them.
"""

from __future__ import annotations

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "chest-xray": (
        "normal chest x-ray",
        "pneumonia",
        "bilateral peripheral ground-glass opacities",
        "lobar consolidation",
        "cardiomegaly",
        "pleural effusion",
        "pneumothorax",
        "pulmonary edema",
        "atelectasis",
        "lung nodule or mass",
        "hilar lymphadenopathy",
        "rib fracture",
    ),
    "dermatology": (
        "melanoma",
        "melanocytic nevus",
        "basal cell carcinoma",
        "squamous cell carcinoma",
        "actinic keratosis",
        "seborrheic keratosis",
        "dermatofibroma",
        "vascular lesion",
        "psoriasis",
        "eczema",
    ),
    "fundus": (
        "normal fundus",
        "diabetic retinopathy",
        "hard exudates",
        "retinal hemorrhages",
        "glaucomatous optic disc cupping",
        "age-related macular degeneration",
        "hypertensive retinopathy",
        "retinal vein occlusion",
        "papilledema",
        "retinal detachment",
    ),
    "histopathology": (
        "tumour epithelium",
        "simple stroma",
        "complex stroma",
        "lymphocytes",
        "debris and necrosis",
        "normal mucosal glands",
        "adipose tissue",
        "background without tissue",
        "adenocarcinoma",
        "granulomatous inflammation",
    ),
    "ct": (
        "normal CT",
        "intracranial hemorrhage",
        "ischemic stroke",
        "pulmonary embolism",
        "lung nodule",
        "pneumonia",
        "liver lesion",
        "kidney stone",
        "bowel obstruction",
        "bone fracture",
        "tumour or mass",
    ),
    "mr": (
        "normal MRI",
        "brain tumour",
        "ischemic stroke",
        "multiple sclerosis lesions",
        "intracranial hemorrhage",
        "spinal disc herniation",
        "ligament tear",
        "bone marrow edema",
        "tumour or mass",
    ),
}

ALIASES: dict[str, str] = {
    "xray": "chest-xray",
    "x-ray": "chest-xray",
    "cxr": "chest-xray",
    "chest x-ray": "chest-xray",
    "chest xray": "chest-xray",
    "skin": "dermatology",
    "derm": "dermatology",
    "ophthalmology": "fundus",
    "retina": "fundus",
    "pathology": "histopathology",
    "histology": "histopathology",
    "hist/path": "histopathology",
    "biopsy": "histopathology",
    "ct scan": "ct",
    "mri": "mr",
}


def normalise_modality(modality: str | None) -> str | None:
    """'Chest X-ray' -> 'chest-xray'; unknown modalities are returned lower-cased."""
    if not modality:
        return None
    key = modality.strip().lower()
    return key if key in VOCABULARIES else ALIASES.get(key, key)


def default_labels(modality: str | None) -> tuple[str, list[str]]:
    """(vocabulary name, labels) for a modality; an unknown modality gets every vocabulary."""
    key = normalise_modality(modality)
    if key in VOCABULARIES:
        return key, list(VOCABULARIES[key])
    merged = dict.fromkeys(label for labels in VOCABULARIES.values() for label in labels)
    return "all modalities", list(merged)
