"""The LLM agents as the `llm` factory of every role: `clinsim.agents.factories` hands any model
address (`openai/NAME`, `hf/ORG/NAME`, `replay/RUN`) to these. The episode's seed is sent with
every call. An unknown bias name raises `UnknownBias` (a ValueError) when the agent is made.
Each agent is worded by its role's prompt templates: the run's (`AgentRequest.prompts`) or the
bundled ones.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from clinsim.agents.factories import AgentRequest
from clinsim.agents.llm.biases import resolve_bias
from clinsim.agents.llm.doctor import LLMDoctor
from clinsim.agents.llm.judge import LLMJudge
from clinsim.agents.llm.measurement import LLMMeasurement
from clinsim.agents.llm.patient import LLMPatient, leak_matcher
from clinsim.agents.prompts import PromptedConfig, RolePrompts, bundled_prompts
from clinsim.environments.factories import doctor, judge, measurement, patient


class LLMConfig(PromptedConfig):
    temperature: float = Field(default=0.0, ge=0, description="Sampling temperature.")
    max_tokens: int = Field(default=512, ge=1, description="Most tokens per reply.")


class LLMDoctorConfig(LLMConfig):
    protocol: Literal["json", "tools", "agentclinic"] = Field(
        default="json", description="How replies become actions."
    )
    bias: str | None = Field(default=None, description="A bias name or the bias text.")
    multimodal: bool = Field(
        default=True,
        description="Attach images that have a local file; False: the tools' text findings only.",
    )
    repair_attempts: int = Field(
        default=2, ge=0, description="Repair prompts after an unparseable reply."
    )

    def prompt_variant(self) -> str:
        return self.protocol


class LLMPatientConfig(LLMConfig):
    bias: str | None = Field(default=None, description="A bias name or the bias text.")
    leak_retries: int = Field(
        default=2, ge=0, description="Regenerations of a reply that names the diagnosis."
    )


class LLMJudgeConfig(LLMConfig):
    retries: int = Field(
        default=2, ge=0, description="Retries of a reply that is neither yes nor no."
    )
    graded: bool = Field(
        default=False,
        description="Ask for one of the rules judge's grades (exact, synonym, more specific, "
        "less specific, related, wrong) instead of AgentClinic's yes/no.",
    )


def prompts_of(request: AgentRequest, config: LLMConfig) -> RolePrompts:
    """The role's templates for this run, or the bundled ones."""
    return request.prompts or bundled_prompts(request.role, config.prompt_variant())


@doctor("llm", config=LLMDoctorConfig)
def llm_doctor(request: AgentRequest, config: LLMDoctorConfig) -> LLMDoctor:
    """A doctor played by the model of the address."""
    prompts = prompts_of(request, config)
    model = request.model()
    # text-only models get the image tools' findings instead of the pictures
    multimodal = config.multimodal and bool(getattr(model, "accepts_images", True))
    return LLMDoctor(
        model,
        protocol=config.protocol,
        bias=resolve_bias("doctor", config.bias, prompts.template("bias")),
        images={image.id: image for image in request.scenario.case.images},
        multimodal=multimodal,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        seed=request.seed,
        repair_attempts=config.repair_attempts,
        prompts=prompts,
    )


@patient("llm", config=LLMPatientConfig)
def llm_patient(request: AgentRequest, config: LLMPatientConfig) -> LLMPatient:
    """A patient played by the model of the address; it never names the diagnosis."""
    answer = request.scenario.answer  # read only for the leak check, never prompted
    prompts = prompts_of(request, config)
    return LLMPatient(
        request.model(),
        request.scenario.case.patient,
        leak_matcher(answer.diagnosis, answer.synonyms),
        bias=resolve_bias("patient", config.bias, prompts.template("bias")),
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        seed=request.seed,
        leak_retries=config.leak_retries,
        prompts=prompts,
    )


@measurement("llm", config=LLMConfig)
def llm_measurement(request: AgentRequest, config: LLMConfig) -> LLMMeasurement:
    """A measurement reader played by the model of the address (sees the case only)."""
    return LLMMeasurement(
        request.model(),
        request.scenario.case,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        seed=request.seed,
        prompts=prompts_of(request, config),
    )


@judge("llm", config=LLMJudgeConfig)
def llm_judge(request: AgentRequest, config: LLMJudgeConfig) -> LLMJudge:
    """A judge played by the model of the address: same disease, yes or no."""
    return LLMJudge(
        request.model(),
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        seed=request.seed,
        retries=config.retries,
        graded=config.graded,
        prompts=prompts_of(request, config),
    )
