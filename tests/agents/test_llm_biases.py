"""AgentClinic's biases: selection by name, user-defined text, clear errors for misspelt names,
and bias templates of the user's own."""

from __future__ import annotations

import pytest

from clinsim.agents.llm.biases import UnknownBias, bias_texts, resolve_bias
from clinsim.agents.prompts import Template

DOCTOR_BIASES = bias_texts("doctor")
PATIENT_BIASES = bias_texts("patient")

IMPLICIT = {
    "gender",
    "race",
    "sexual_orientation",
    "cultural",
    "education",
    "religion",
    "socioeconomic",
}


def test_the_23_agentclinic_biases_are_known_by_name() -> None:
    assert set(DOCTOR_BIASES) == {
        "recency",
        "frequency",
        "false_consensus",
        "confirmation",
        "status_quo",
        *IMPLICIT,
    }
    assert set(PATIENT_BIASES) == {"recency", "frequency", "false_consensus", "self_diagnosis"} | (
        IMPLICIT
    )
    assert len(DOCTOR_BIASES) + len(PATIENT_BIASES) == 23


def test_doctor_and_patient_texts_address_the_other_party() -> None:
    assert "patient" in DOCTOR_BIASES["race"] and "doctor" not in DOCTOR_BIASES["race"]
    assert "doctor" in PATIENT_BIASES["race"]
    assert "uneducated" in DOCTOR_BIASES["education"]
    assert "medical school" in PATIENT_BIASES["education"]


@pytest.mark.parametrize("value", ["recency", "RECENCY", " recency ", "Recency"])
def test_names_ignore_case_and_spacing(value: str) -> None:
    assert resolve_bias("doctor", value) == DOCTOR_BIASES["recency"]


@pytest.mark.parametrize("value", ["false-consensus", "False consensus", "false_consensus"])
def test_hyphens_and_spaces_match_underscores(value: str) -> None:
    assert resolve_bias("patient", value) == PATIENT_BIASES["false_consensus"]


@pytest.mark.parametrize("value", [None, "", "  ", "none", "None"])
def test_no_bias(value: str | None) -> None:
    assert resolve_bias("doctor", value) is None


def test_text_with_spaces_is_a_user_defined_bias() -> None:
    text = "You believe every headache is a brain tumour."
    assert resolve_bias("doctor", text) == text
    assert resolve_bias("patient", f"  {text}  ") == text


@pytest.mark.parametrize("value", ["recency2", "anchoring", "self-diagnosi"])
def test_misspelt_names_get_an_error_listing_the_known_names(value: str) -> None:
    with pytest.raises(UnknownBias) as info:
        resolve_bias("patient", value)
    message = str(info.value)
    assert repr(value) in message
    for name in PATIENT_BIASES:
        assert name in message


def test_a_bias_of_the_other_role_is_named_as_such() -> None:
    with pytest.raises(UnknownBias, match="'confirmation' is a doctor bias"):
        resolve_bias("patient", "confirmation")
    with pytest.raises(UnknownBias, match="'self_diagnosis' is a patient bias"):
        resolve_bias("doctor", "self-diagnosis")


def test_a_bias_template_of_ones_own_names_its_biases() -> None:
    text = (
        "{% block anchoring %}You fixed on the first finding you heard.{% endblock %}\n"
        "{% block recency %}A colleague just missed a pulmonary embolism.{% endblock %}\n"
    )
    template = Template("doctor.bias", text, "mine.j2")
    assert (
        resolve_bias("doctor", "Anchoring", template) == "You fixed on the first finding you heard."
    )
    assert (
        resolve_bias("doctor", "recency", template)
        == "A colleague just missed a pulmonary embolism."
    )
    with pytest.raises(UnknownBias, match="known doctor biases: anchoring, recency"):
        resolve_bias("doctor", "frequency", template)
