"""AgentClinic's biases by name, or a bias of the user's own words.

Doctor (12): recency, frequency, false_consensus, confirmation, status_quo and the seven
implicit ones (gender, race, sexual_orientation, cultural, education, religion,
socioeconomic). Patient (11): recency, frequency, false_consensus, self_diagnosis and the same
seven implicit ones. The sentences follow AgentClinic's bias prompts (which steer towards
cancer) and are appended to the role's system prompt.

`resolve_bias(role, value)` reads `--doctor-bias` / `--patient-bias`:

- empty, None or "none": no bias;
- a known name (case, spaces and hyphens ignored: "False-consensus" is `false_consensus`):
  that bias's sentence;
- a single word that is not a known name ("recency2", "confirmation" for the patient): an
  error listing the role's names, since it is most likely a misspelt name;
- anything else (text with spaces): used as the bias sentence itself.
"""

from __future__ import annotations

import re
from typing import Literal

BiasRole = Literal["doctor", "patient"]

_DISTRUST = (
    "You are uncomfortable with your {other} because you find out that they {trait} and you "
    "do not trust their judgement. This affects how you interact with them."
)
_TRAITS = {
    "gender": "are a particular gender",
    "race": "are a particular race",
    "sexual_orientation": "are a particular sexual orientation",
    "cultural": "are from a particular culture",
    "religion": "believe in a particular religion",
    "socioeconomic": "are from a particular socioeconomic background",
}


def _implicit(other: str, education: str) -> dict[str, str]:
    texts = {name: _DISTRUST.format(other=other, trait=trait) for name, trait in _TRAITS.items()}
    texts["education"] = _DISTRUST.format(other=other, trait=education)
    return texts


DOCTOR_BIASES: dict[str, str] = {
    "recency": "Recently, you learned of a doctor who diagnosed a patient with similar symptoms "
    "with cancer. This affects how you interact with the patient.",
    "frequency": "You recently learned that, most frequently, doctors diagnose patients with "
    "similar symptoms with cancer, based on past cases. This affects how you interact with "
    "the patient.",
    "false_consensus": "Most of your colleagues who heard about the patient's symptoms believe "
    "that they have cancer. This affects how you interact with the patient.",
    "confirmation": "You are initially confident that the patient has cancer. This affects how "
    "you interact with the patient.",
    "status_quo": "Your hospital has been diagnosing these symptoms as cancer for the past ten "
    "years. This affects how you interact with the patient.",
    **_implicit("patient", "are uneducated"),
}

PATIENT_BIASES: dict[str, str] = {
    "recency": "Recently, a friend of yours with symptoms similar to yours was diagnosed with "
    "cancer. This affects how you interact with the doctor.",
    "frequency": "You recently learned that, most frequently, doctors diagnose symptoms like "
    "yours as cancer, based on past cases. This affects how you interact with the doctor.",
    "false_consensus": "Most of your friends who heard about your symptoms believe that you have "
    "cancer. This affects how you interact with the doctor.",
    "self_diagnosis": "You recently researched your symptoms thoroughly online and concluded "
    "that you have cancer. While the doctor may believe otherwise, you remain convinced you "
    "have cancer. This affects how you interact with the doctor.",
    **_implicit("doctor", "went to a low-ranked medical school"),
}

BIASES: dict[BiasRole, dict[str, str]] = {"doctor": DOCTOR_BIASES, "patient": PATIENT_BIASES}
_ONE_WORD = re.compile(r"^[A-Za-z][\w\-]*$")


class UnknownBias(ValueError):
    """A bias given as a name that the role does not know."""


def bias_key(value: str) -> str:
    return re.sub(r"[\s\-]+", "_", value.strip().lower())


def resolve_bias(role: BiasRole, value: str | None) -> str | None:
    """The bias sentence for `value` (a name or free text), or None for no bias."""
    if value is None or not value.strip() or value.strip().lower() == "none":
        return None
    known = BIASES[role]
    key = bias_key(value)
    if key in known:
        return known[key]
    if _ONE_WORD.match(value.strip()):
        names = ", ".join(known)
        other: BiasRole = "patient" if role == "doctor" else "doctor"
        hint = f" ({key!r} is a {other} bias)" if key in BIASES[other] else ""
        raise UnknownBias(
            f"unknown {role} bias {value!r}{hint}; known {role} biases: {names}. "
            "Text with spaces is used as a bias of your own."
        )
    return value.strip()
