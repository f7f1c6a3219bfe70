"""The run options the LLM agents read, taken from `AgentOptions` (declared fields and extras)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clinsim.agents.registry import AgentOptions


class LLMOptions(BaseModel):
    """`AgentOptions` fields used here; extra keys of `AgentOptions` with these names apply too."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    doctor_protocol: Literal["json", "tools", "agentclinic"] = "json"
    doctor_bias: str | None = None
    patient_bias: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    multimodal: bool = Field(
        default=True,
        description="Attach images that have a local file to the doctor's messages; False: the "
        "doctor gets the tools' text findings only.",
    )
    repair_attempts: int = Field(
        default=2, ge=0, description="Repair prompts after an unparseable doctor reply."
    )
    leak_retries: int = Field(
        default=2, ge=0, description="Regenerations of a patient reply that names the diagnosis."
    )
    judge_retries: int = Field(
        default=2, ge=0, description="Retries of a judge reply that is neither yes nor no."
    )

    @classmethod
    def from_agent_options(cls, options: AgentOptions) -> LLMOptions:
        return cls.model_validate(options.model_dump())
