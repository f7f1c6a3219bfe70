"""Finding and loading transformers checkpoints for the `hf` provider, from local files only.

A model name is a local directory, a local `.gguf` file, or a Hugging Face repo id looked up in
the local cache (`local_files_only=True`). Gated weights such as MedGemma's must be downloaded
beforehand by someone who accepted the licence; the error says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from clinsim.agents.models.base import ModelError
from clinsim.agents.models.templates import GEMMA_CHAT_TEMPLATE, GEMMA_END_OF_TURN
from clinsim.plugins import Config

MULTIMODAL_REPOS = {"google/medgemma-27b-it", "google/medgemma-4b-it"}
MULTIMODAL_ARCHITECTURES = {"Gemma3ForConditionalGeneration"}


class HFConfig(Config):
    device: str | None = Field(default=None, description="cuda, cpu, ... (default: cuda if any).")
    dtype: str | None = Field(default=None, description="e.g. bfloat16 (default: bf16 on CUDA).")
    load_in_4bit: bool = Field(default=False, description="4-bit weights (needs bitsandbytes).")
    cache_dir: str | None = Field(default=None, description="Hugging Face cache folder.")
    gguf_file: str | None = Field(default=None, description="A .gguf file in the model folder.")
    chat_template: str | None = Field(
        default=None, description="A Jinja string, a .jinja file, or 'gemma'."
    )
    reuse_kv_cache: bool = Field(default=True, description="Reuse the previous call's prefix.")
    tensor_parallel: int = Field(
        default=1,
        ge=1,
        le=64,
        description="GPUs one copy of the model spans (its layers spread over the visible GPUs); "
        "with --executor ray, the GPUs each replica reserves.",
    )


@dataclass
class Source:
    directory: Path
    gguf_file: str | None = None
    repo: str | None = None


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    processor: Any | None
    device: Any
    dtype: Any
    stop_token_ids: list[int] = field(default_factory=list)
    strip_tokens: list[str] = field(default_factory=list)
    template_takes_tools: bool = False

    @property
    def text_side(self) -> Any:
        """Whatever renders the chat template: the processor for multimodal models."""
        return self.processor if self.processor is not None else self.tokenizer


def missing_weights_message(repo: str, cache_dir: str | None) -> str:
    where = cache_dir or "the default Hugging Face cache (~/.cache/huggingface/hub)"
    return (
        f"weights for {repo!r} are not in {where}, and clinsim does not download them. "
        f"Accept the model's licence at https://huggingface.co/{repo} (MedGemma is gated by the "
        f"Health AI Developer Foundations terms), then download the weights first, e.g. "
        f"`hf download {repo}`, or pass a local directory as hf//path/to/model."
    )


def resolve_source(name: str, settings: HFConfig) -> Source:
    path = Path(name).expanduser()
    gguf = settings.gguf_file
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"GGUF file {str(path)!r} does not exist")
        return Source(path.parent, path.name)
    if path.is_dir():
        return Source(path, gguf)
    if name.startswith(("/", ".", "~")):
        raise ModelError(f"model directory {name!r} does not exist")
    try:
        from huggingface_hub import snapshot_download

        directory = snapshot_download(name, local_files_only=True, cache_dir=settings.cache_dir)
    except Exception as error:  # LocalEntryNotFoundError, GatedRepoError, invalid repo ids
        raise ModelError(missing_weights_message(name, settings.cache_dir)) from error
    return Source(Path(directory), gguf, name)


def is_multimodal(source: Source, name: str) -> bool:
    if source.gguf_file is not None:
        return False
    if name in MULTIMODAL_REPOS:
        return True
    config_file = source.directory / "config.json"
    if not config_file.is_file():
        return False
    try:
        config = json.loads(config_file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelError(f"{config_file}: not valid JSON ({error})") from error
    return bool(set(config.get("architectures") or []) & MULTIMODAL_ARCHITECTURES) or (
        "vision_config" in config
    )


def device_and_dtype(settings: HFConfig) -> tuple[str, Any]:
    import torch

    device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if settings.dtype:
        dtype = getattr(torch, settings.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ModelError(f"unknown dtype {settings.dtype!r} (e.g. bfloat16, float32)")
        return device, dtype
    return device, torch.bfloat16 if device.startswith("cuda") else torch.float32


def _quantization(settings: HFConfig, device: str) -> dict[str, Any]:
    if not settings.load_in_4bit:
        return {}
    try:
        import bitsandbytes  # noqa: F401
        import torch
        import transformers
    except ImportError as error:
        raise ModelError("load_in_4bit needs bitsandbytes: pip install bitsandbytes") from error
    if not device.startswith("cuda"):
        raise ModelError("load_in_4bit needs a CUDA device")
    tf: Any = transformers
    config = tf.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
    return {"quantization_config": config}


def chat_template(settings: HFConfig, renderer: Any, model_type: str) -> str | None:
    """The user's template, else the processor's or tokenizer's (None: keep it), else Gemma's
    for Gemma-family models."""
    supplied = settings.chat_template
    if supplied == "gemma":
        return GEMMA_CHAT_TEMPLATE
    if supplied:
        path = Path(str(supplied)).expanduser()
        if path.suffix == ".jinja":
            if not path.is_file():
                raise ModelError(f"chat template file {str(path)!r} does not exist")
            return path.read_text()
        return str(supplied)
    if getattr(renderer, "chat_template", None):
        return None
    if model_type.startswith("gemma"):
        return GEMMA_CHAT_TEMPLATE
    raise ModelError(
        "the tokenizer has no chat template; pass one (a Jinja string, a .jinja file or 'gemma')"
    )


def load(name: str, source: Source, settings: HFConfig) -> LoadedModel:
    """Load tokenizer/processor and model for `name` found at `source`."""
    import transformers

    tf: Any = transformers
    device, dtype = device_and_dtype(settings)
    common: dict[str, Any] = {"local_files_only": True}
    if source.gguf_file:
        common["gguf_file"] = source.gguf_file
    placement: dict[str, Any] = {"dtype": dtype, **_quantization(settings, device)}
    if device.startswith("cuda"):
        placement["device_map"] = "auto"
    multimodal = is_multimodal(source, name)
    label = source.repo or str(source.directory / (source.gguf_file or ""))
    try:
        processor = (
            tf.AutoProcessor.from_pretrained(source.directory, **common) if multimodal else None
        )
        tokenizer = (
            processor.tokenizer
            if processor
            else tf.AutoTokenizer.from_pretrained(source.directory, **common)
        )
        auto = tf.AutoModelForImageTextToText if multimodal else tf.AutoModelForCausalLM
        model = auto.from_pretrained(source.directory, **common, **placement)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load {label}: {error}") from error
    if "device_map" not in placement:
        model = model.to(device)
    model.eval()
    return _finish(model, tokenizer, processor, settings, dtype)


def _finish(
    model: Any, tokenizer: Any, processor: Any | None, settings: HFConfig, dtype: Any
) -> LoadedModel:
    model_type = str(getattr(model.config, "model_type", ""))
    renderer = processor if processor is not None else tokenizer
    template = chat_template(settings, renderer, model_type)
    if template is not None:
        renderer.chat_template = template
    stops = model.generation_config.eos_token_id or tokenizer.eos_token_id
    stop_ids = list(stops) if isinstance(stops, list) else [stops]
    end_of_turn = tokenizer.convert_tokens_to_ids(GEMMA_END_OF_TURN)
    if isinstance(end_of_turn, int) and end_of_turn != tokenizer.unk_token_id:
        stop_ids.append(end_of_turn)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token_id = stop_ids[0]
    specials = [tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token, GEMMA_END_OF_TURN]
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        processor=processor,
        device=model.device,
        dtype=dtype,
        stop_token_ids=sorted({int(i) for i in stop_ids if i is not None}),
        strip_tokens=[token for token in specials if token],
        template_takes_tools="tools" in str(renderer.chat_template or ""),
    )
