"""Provider `hf`: models run in-process with transformers.

`hf/google/medgemma-27b-text-it` (text, AutoModelForCausalLM), `hf/google/medgemma-4b-it` and
`hf/google/medgemma-27b-it` (multimodal, AutoModelForImageTextToText + AutoProcessor, images as
real image inputs), `hf//path/to/model-dir`, `hf//path/to/model.gguf`. Weights come from a local
directory or the local Hugging Face cache only; nothing is downloaded.

Settings: `HFConfig` (device, dtype, load_in_4bit, cache_dir, gguf_file, chat_template,
reuse_kv_cache).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from clinsim.agents.models.base import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelError,
    Usage,
)
from clinsim.agents.models.hf_loading import HFConfig, LoadedModel, load, resolve_source
from clinsim.agents.models.images import open_image
from clinsim.agents.models.prefix_cache import PrefixCache, cache_keyword
from clinsim.agents.models.registry import backend
from clinsim.agents.models.text_tools import call_text, output_text, tool_instructions
from clinsim.agents.models.thinking import split_thinking
from clinsim.agents.models.tool_schema import openai_tool


def _tool_text(message: ChatMessage) -> tuple[str, str]:
    """Role and text of a message when the template has no tool support: calls as
    ```tool_code``` blocks, results as ```tool_output``` blocks in a user turn."""
    text = message.content
    if message.tool_calls:
        calls = "\n".join(call_text(call) for call in message.tool_calls)
        text = "\n".join(part for part in (text, calls) if part)
    if message.role == "tool":
        return "user", output_text(text)
    return message.role, text


def _with_tool_instructions(request: ChatRequest) -> list[ChatMessage]:
    """The messages with the tools described in the system text (templates without tools)."""
    messages = list(request.messages)
    if not request.tools:
        return messages
    instructions = request.tool_instructions or tool_instructions(request.tools)
    if messages and messages[0].role == "system":
        system = messages[0]
        messages[0] = system.model_copy(update={"content": f"{system.content}\n\n{instructions}"})
    else:
        messages.insert(0, ChatMessage(role="system", content=instructions))
    return messages


def template_messages(
    request: ChatRequest, with_tools: bool, multimodal: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """Messages for a chat template and the image paths in order of appearance.

    Without template tool support, the tools are described in the system text, tool calls and
    results become text (see `text_tools`) and same-role neighbours merge (Gemma's template
    needs alternating user/model turns)."""
    messages: list[dict[str, Any]] = []
    paths: list[str] = []
    for message in request.messages if with_tools else _with_tool_instructions(request):
        role, text = (message.role, message.content) if with_tools else _tool_text(message)
        content: Any = text
        if multimodal:
            content = [{"type": "text", "text": text}] + [{"type": "image"} for _ in message.images]
            paths.extend(message.images)
        if not with_tools and messages and messages[-1]["role"] == role:
            previous = messages[-1]["content"]
            messages[-1]["content"] = previous + content if multimodal else f"{previous}\n\n{text}"
            continue
        entry: dict[str, Any] = {"role": role, "content": content}
        if with_tools and message.tool_calls:
            entry["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
        if with_tools and message.name:
            entry["name"] = message.name
        messages.append(entry)
    return messages, paths


class HFChatModel:
    """A transformers model loaded on first use; one generation at a time per model."""

    def __init__(self, name: str, settings: HFConfig):
        self.name = name
        self.address = f"hf/{name}"
        self.settings = settings
        self.reuse_kv_cache = settings.reuse_kv_cache
        self.source = resolve_source(name, settings)  # fails early when weights are missing
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()
        self._prefix = PrefixCache()

    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load(self.name, self.source, self.settings)
        return self._loaded

    @property
    def accepts_images(self) -> bool:
        """Whether the model takes image inputs (loads it: asked once, when a role is built)."""
        return self.loaded().processor is not None

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await asyncio.to_thread(self.chat_sync, request)

    def chat_sync(self, request: ChatRequest) -> ChatResponse:
        with self._lock:
            started = time.perf_counter()
            model = self.loaded()
            try:
                inputs, has_images = self._encode(model, request)
                response = self._generate(model, request, inputs, reuse=not has_images)
            except ModelError:
                raise
            except (RuntimeError, ValueError, OSError) as exc:  # out of memory, bad image, ...
                raise ModelError(f"{self.address}: generation failed: {exc}") from exc
            response.latency_s = time.perf_counter() - started
            return response

    def _encode(self, model: LoadedModel, request: ChatRequest) -> tuple[Any, bool]:
        with_tools = bool(request.tools) and model.template_takes_tools
        multimodal = model.processor is not None
        if not multimodal and any(message.images for message in request.messages):
            raise ModelError(f"{self.address} is a text model; it cannot take images")
        messages, paths = template_messages(request, with_tools, multimodal)
        images = [open_image(path) for path in paths]
        template_options: dict[str, Any] = {}
        if with_tools and request.tools:
            template_options["tools"] = [openai_tool(spec) for spec in request.tools]
        try:
            prompt = model.text_side.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, **template_options
            )
        except Exception as error:  # jinja raise_exception and template errors
            raise ModelError(f"{self.address}: chat template failed: {error}") from error
        if model.processor is not None:
            inputs = model.processor(
                text=prompt, images=images or None, add_special_tokens=False, return_tensors="pt"
            )
        else:
            inputs = model.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
        return inputs.to(model.device), bool(images)

    def _generate(
        self, model: LoadedModel, request: ChatRequest, inputs: Any, reuse: bool
    ) -> ChatResponse:
        import torch

        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        prompt_ids = inputs["input_ids"][0].tolist()
        options: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            "do_sample": request.temperature > 0,
            "eos_token_id": model.stop_token_ids,
            "pad_token_id": model.tokenizer.pad_token_id,
            "return_dict_in_generate": True,
        }
        if request.temperature > 0:
            options.update(temperature=request.temperature, top_k=None, top_p=None)
        if request.stop:
            options.update(stop_strings=request.stop, tokenizer=model.tokenizer)
        if self.reuse_kv_cache and reuse:
            options[cache_keyword()] = self._prefix.take(prompt_ids, model.model.config)
        else:
            self._prefix.clear()
        if request.seed is not None:
            torch.manual_seed(request.seed)
        with torch.inference_mode():
            output = model.model.generate(**inputs, **options)
        sequence = output.sequences[0].tolist()
        cache = getattr(output, cache_keyword(), None)
        if self.reuse_kv_cache and reuse and cache is not None:
            self._prefix.keep(sequence, cache)
        return self._response(model, request, sequence[len(prompt_ids) :], len(prompt_ids))

    def _response(
        self, model: LoadedModel, request: ChatRequest, new_ids: list[int], prompt_tokens: int
    ) -> ChatResponse:
        ended = bool(new_ids) and new_ids[-1] in model.stop_token_ids
        text = model.tokenizer.decode(new_ids, skip_special_tokens=False)
        for token in model.strip_tokens:
            text = text.replace(token, "")
        finish = "stop" if ended else "length"
        for stop in request.stop or []:
            if stop in text:
                text, finish = text[: text.index(stop)], "stop"
        reply, thinking = split_thinking(text)
        return ChatResponse(
            text=reply.strip(),
            thinking=thinking,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(new_ids)),
            finish_reason=finish,
        )


@backend("hf", config=HFConfig)
def hf_backend(name: str, config: HFConfig) -> HFChatModel:
    """Models run in-process with transformers, from local weights only."""
    return HFChatModel(name, config)
