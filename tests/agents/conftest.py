"""Session fixtures for the model backends: a real vLLM server on loopback serving a tiny random
Gemma 3 (tests marked `vllm`). Needs `.venv-vllm` from scripts/setup-vllm.sh; without it the
tests are skipped with that reason, shown in the pytest summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clinsim.agents.models.tiny import build_tiny_gemma3_text
from clinsim.agents.models.vllm_local import VLLMServer, vllm_python

REPO_ROOT = Path(__file__).resolve().parents[2]
# tool calls need a parser; hermes reads <tool_call>{...}</tool_call> and is used for guided choice
VLLM_TOOL_FLAGS = ["--enable-auto-tool-choice", "--tool-call-parser", "hermes"]


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    python = vllm_python(REPO_ROOT)
    if python is None:
        pytest.skip(
            f"vLLM not installed: {REPO_ROOT / '.venv-vllm'} missing; run scripts/setup-vllm.sh"
        )
    model_dir = build_tiny_gemma3_text(tmp_path_factory.mktemp("tiny-gemma3-text"))
    server = VLLMServer(
        python, model_dir, served_name="tiny", extra_flags=VLLM_TOOL_FLAGS, max_model_len=4096
    )
    with server:
        yield server
