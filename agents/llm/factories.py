"""Registers the LLM agents as the `llm` provider of every role: `make_agent` hands any model
address (`openai/NAME`, `hf/ORG/NAME`, `replay/RUN`) to these factories.

Options read (from `AgentOptions`, extras included; see `LLMOptions`): temperature,
max_tokens, doctor_protocol, doctor_bias, patient_bias, multimodal, repair_attempts,
leak_retries, judge_retries; the episode's seed is sent with every call. An unknown bias name
raises `UnknownBias` (a ValueError) when the agent is made.
"""

from __future__ import annotations

from clinsim.agents.llm.biases import resolve_bias
from clinsim.agents.llm.doctor import LLMDoctor
from clinsim.agents.llm.judge import LLMJudge
from clinsim.agents.llm.measurement import LLMMeasurement
from clinsim.agents.llm.options import LLMOptions
from clinsim.agents.llm.patient import LLMPatient, leak_matcher
from clinsim.agents.registry import AgentRequest, register_agent


@register_agent("doctor", "llm")
def llm_doctor(request: AgentRequest) -> LLMDoctor:
    options = LLMOptions.from_agent_options(request.options)
    model = request.models.get(request.address)
    # text-only models get the image tools' findings instead of the pictures
    multimodal = options.multimodal and bool(getattr(model, "accepts_images", True))
    return LLMDoctor(
        model,
        protocol=options.doctor_protocol,
        bias=resolve_bias("doctor", options.doctor_bias),
        images={image.id: image for image in request.scenario.case.images},
        multimodal=multimodal,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        seed=request.seed,
        repair_attempts=options.repair_attempts,
    )


@register_agent("patient", "llm")
def llm_patient(request: AgentRequest) -> LLMPatient:
    options = LLMOptions.from_agent_options(request.options)
    answer = request.scenario.answer  # read only for the leak check, never prompted
    return LLMPatient(
        request.models.get(request.address),
        request.scenario.case.patient,
        leak_matcher(answer.diagnosis, answer.synonyms),
        bias=resolve_bias("patient", options.patient_bias),
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        seed=request.seed,
        leak_retries=options.leak_retries,
    )


@register_agent("measurement", "llm")
def llm_measurement(request: AgentRequest) -> LLMMeasurement:
    options = LLMOptions.from_agent_options(request.options)
    return LLMMeasurement(
        request.models.get(request.address),
        request.scenario.case,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        seed=request.seed,
    )


@register_agent("judge", "llm")
def llm_judge(request: AgentRequest) -> LLMJudge:
    options = LLMOptions.from_agent_options(request.options)
    return LLMJudge(
        request.models.get(request.address),
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        seed=request.seed,
        retries=options.judge_retries,
    )
