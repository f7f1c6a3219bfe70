"""Flags shared by the commands that play model roles (`run`, `replay --fork-at`, `judge`), and
how they become a run's options (`clinsim.config`): each flag sets one option key, and
`--model-option` / `--agent-option` set any other, as `KEY=VALUE` (every selected component that
takes KEY) or `ROLE.KEY=VALUE` (one role)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from pydantic import JsonValue

from clinsim.cli.options import number, parse_key_values
from clinsim.components import OptionError
from clinsim.config import SECRET, Options, prompt_files

Opt = typer.Option

BaseUrl = Annotated[
    list[str] | None, Opt(help="OpenAI-compatible server URL; repeat for round-robin.")
]
ApiKey = Annotated[str | None, Opt(envvar="CLINSIM_API_KEY", help="Server API key (never stored).")]
MODEL_TIMEOUT = number(0, above=True, maximum=86_400, unit="seconds")
Timeout = Annotated[
    float | None, Opt(parser=MODEL_TIMEOUT, help="Per model call timeout in s (default 120).")
]
Temperature = Annotated[
    float | None, Opt(parser=number(0), help="Sampling temperature of model roles (default 0).")
]
DoctorProtocol = Annotated[
    str | None, Opt(help="How a model doctor replies: json (default), tools or agentclinic.")
]
DoctorBias = Annotated[str | None, Opt(help="A bias name or free text for a model doctor.")]
ModelOption = Annotated[
    list[str] | None,
    Opt(help="Backend setting KEY=VALUE or ROLE.KEY=VALUE (tool_choice, chat_template, ...)."),
]
AgentOption = Annotated[
    list[str] | None,
    Opt(help="Agent setting KEY=VALUE or ROLE.KEY=VALUE (multimodal, max_tokens, ...)."),
]
PromptFile = Annotated[
    list[str] | None,
    Opt(
        "--prompt",
        help="Replace a model role's prompt template: ROLE.PART=FILE (see clinsim prompts).",
    ),
]

FLAGGED: dict[str, dict[str, str]] = {
    "--model-option": {"base_urls": "--base-url", "timeout_s": "--timeout"},
    "--agent-option": {
        "temperature": "--temperature",
        "doctor.protocol": "--doctor-protocol",
        "doctor.bias": "--doctor-bias",
        "patient.bias": "--patient-bias",
        "measurement.normal_readings": "--normal-readings",
        "judge.vocabulary": "--vocabulary",
    },
    "--tool-option": {
        "ehr_db": "--ehr",
        "image_model": "--image-model",
        "image_cache_dir": "--image-cache",
    },
}
"""Options with a flag of their own: KEY=VALUE must not set them."""


def key_values(items: list[str] | None, flag: str) -> Options:
    """`--model-option` / `--agent-option` values, refusing keys that have a flag."""
    options: Options = parse_key_values(items, flag)
    for key in options:
        if key.rpartition(".")[2] == SECRET:
            raise ValueError(f"{flag} {key}=...: use --api-key (API keys are never stored)")
        if key in FLAGGED[flag]:
            raise ValueError(f"{flag} {key}=...: use {FLAGGED[flag][key]} instead")
    return options


def prompt_flags(items: list[str] | None) -> dict[str, str]:
    """`--prompt ROLE.PART=FILE` values -> {ROLE.PART: FILE}; a key naming no part is an error
    listing the parts."""
    files: dict[str, str] = {}
    for item in items or []:
        key, sep, path = item.partition("=")
        if not sep or not key.strip() or not path.strip():
            raise ValueError(f"--prompt takes ROLE.PART=FILE, got {item!r}")
        files[key.strip()] = path.strip()
    return prompt_files(files)


def given(options: dict[str, JsonValue | None]) -> Options:
    """The flags a person gave (None: not given)."""
    return {key: value for key, value in options.items() if value is not None}


@dataclass(frozen=True)
class ModelFlags:
    """The flags that configure model roles and their backends."""

    base_url: list[str] | None = None
    timeout: float | None = None
    temperature: float | None = None
    doctor_protocol: str | None = None
    doctor_bias: str | None = None
    model_option: list[str] | None = None
    agent_option: list[str] | None = None

    def model_options(self) -> Options:
        flags: dict[str, JsonValue | None] = {
            "base_urls": list(self.base_url) if self.base_url else None,
            "timeout_s": self.timeout,
        }
        return {**key_values(self.model_option, "--model-option"), **given(flags)}

    def agent_options(self, **more: JsonValue | None) -> Options:
        """Agent options: `--agent-option`, then the flags (`more`: a command's own ones)."""
        flags: dict[str, JsonValue | None] = {
            "temperature": self.temperature,
            "doctor.protocol": self.doctor_protocol,
            "doctor.bias": self.doctor_bias,
            **more,
        }
        return {**key_values(self.agent_option, "--agent-option"), **given(flags)}


def explain(error: Exception) -> str:
    """An error message, naming the flag that set the option when one did."""
    if not isinstance(error, OptionError):
        return str(error)
    named = FLAGGED.get(f"--{error.what.replace(' ', '-')}", {}).get(error.key)
    return f"{named}: {error}" if named else str(error)
