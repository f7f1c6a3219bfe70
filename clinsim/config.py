"""A run's configuration as plain data: what `clinsim run` builds from its flags, what an
experiment file would hold, and what the run store keeps (JSON in, JSON out).

Components are chosen by address (`doctor`, `patient`, `measurement`, `judges`) and by name
(`tools`). Their settings are given as options, `KEY` (every selected component that takes KEY)
or `TARGET.KEY` (one role, or one tool):

    agent_options  the role's player        {"temperature": 0.7, "doctor.protocol": "tools"}
    model_options  the role's model backend {"base_urls": ["http://127.0.0.1:8000/v1"]}
    tool_options   the tools                {"ehr_db": "ehr.duckdb", "read_image.image_model": ...}

`prompts` replaces prompt templates of the roles played by a model: `ROLE.PART` (or `ROLE`, its
system prompt) -> a template file, e.g. {"doctor.system": "prompts/doctor.j2"}
(`clinsim.agents.prompts`). The run stores every template it used, text and sha256.

`clinsim.components.resolve` checks all of it against the components' configuration models
before anything runs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from clinsim.agents.prompts.parts import part_key
from clinsim.environments.encounter import DEFAULT_MAX_TURNS, Presentation
from clinsim.tools.base import builtin_tools

Options = dict[str, JsonValue]
"""`KEY` or `TARGET.KEY` -> value."""
SECRET = "api_key"


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(default_factory=lambda: ["demo"])
    doctor: str = "baseline"
    patient: str = "facts"
    measurement: str = "lookup"
    judges: list[str] = Field(default_factory=lambda: ["rules"], min_length=1)
    tools: list[str] = Field(default_factory=builtin_tools)
    """The tools a doctor may be offered (each decides per episode whether it is)."""
    max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1)
    seed: int = 0
    trials: int = Field(default=1, ge=1, le=1000)
    """Each scenario is played this many times, each trial with its own seed."""
    presentation: Presentation = "dialogue"
    limit: int | None = Field(default=None, ge=1)
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_concurrency: int = Field(default=1, ge=1)
    images_upfront: bool = False
    prices: Path | None = None
    image_dir: Path | None = None
    agent_options: Options = Field(default_factory=dict)
    model_options: Options = Field(default_factory=dict)
    tool_options: Options = Field(default_factory=dict)
    prompts: dict[str, str] = Field(default_factory=dict)
    """`ROLE.PART` -> template file, in place of the bundled template."""

    @field_validator("model_options")
    @classmethod
    def _no_secrets(cls, options: Options) -> Options:
        return no_secrets(options)

    @field_validator("prompts")
    @classmethod
    def _prompt_keys(cls, prompts: dict[str, str]) -> dict[str, str]:
        return prompt_files(prompts)


def prompt_files(prompts: dict[str, str]) -> dict[str, str]:
    """Prompt files by full `ROLE.PART` key; a key naming no part is an error listing them."""
    files: dict[str, str] = {}
    for key, path in prompts.items():
        full = part_key(key)
        if full in files:
            raise ValueError(f"prompt {full} is given twice")
        files[full] = path
    return files


def no_secrets(options: Options) -> Options:
    """Options are stored with the run: an API key is given each time, never kept."""
    for key in options:
        if key.rpartition(".")[2] == SECRET:
            raise ValueError(
                f"{key}: API keys are never stored; give --api-key (or CLINSIM_API_KEY)"
            )
    return options


class Fork(BaseModel):
    """Who took over the doctor's role of a stored episode, from which doctor turn (1-based)."""

    model_config = ConfigDict(extra="forbid")

    doctor: str
    turn: int = Field(ge=1)
    run: str = ""
    episode: str = ""
    agent_options: Options = Field(default_factory=dict)
    model_options: Options = Field(default_factory=dict)
    prompts: dict[str, str] = Field(default_factory=dict)
    """The new doctor's prompt files (`doctor.PART` -> file)."""

    @field_validator("model_options")
    @classmethod
    def _no_secrets(cls, options: Options) -> Options:
        return no_secrets(options)

    @field_validator("prompts")
    @classmethod
    def _prompt_keys(cls, prompts: dict[str, str]) -> dict[str, str]:
        return prompt_files(prompts)


class StoredPrompt(BaseModel):
    """A prompt template a run used: where it came from, its sha256 and its text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    """The file as given, or `bundled:NAME` for a template shipped with clinsim."""
    sha256: str
    text: str


class StoredRun(BaseModel):
    """What the run store keeps as a run's configuration: the plain-data config, every selected
    component with its validated settings (secrets left out), every prompt template the roles
    played by a model used (by `ROLE.PART`), and the fork, if the run is one (with the new
    doctor's templates)."""

    model_config = ConfigDict(extra="forbid")

    run: RunConfig
    components: dict[str, JsonValue]
    prompts: dict[str, StoredPrompt] = Field(default_factory=dict)
    fork: Fork | None = None
    fork_prompts: dict[str, StoredPrompt] = Field(default_factory=dict)
