"""Start and stop a local vLLM OpenAI-compatible server (CPU build) on loopback.

Used by the integration tests and CI against `.venv-vllm` (created by scripts/setup-vllm.sh);
also handy for serving a local model directory to `openai/...` agents. The flags keep a small
model's start-up near half a minute and its memory near 1.5 GB on a CPU machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

DEFAULT_FLAGS = [
    "--enforce-eager",
    "--distributed-executor-backend",
    "uni",
    "--kv-cache-memory-bytes",
    "64M",
    "--max-model-len",
    "1024",
    "--max-num-seqs",
    "8",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def vllm_python(repo_root: str | Path) -> Path | None:
    """The interpreter of `<repo_root>/.venv-vllm`, or None when that environment is missing."""
    python = Path(repo_root) / ".venv-vllm" / "bin" / "python"
    return python if python.is_file() else None


class VLLMServer:
    """`with VLLMServer(python, model_dir) as server:` -> `server.base_url` once /health is OK."""

    def __init__(
        self,
        python: str | Path,
        model_dir: str | Path,
        served_name: str = "tiny",
        start_timeout_s: float = 240.0,
        extra_flags: list[str] | None = None,
        max_model_len: int | None = None,
    ):
        self.python = str(python)
        self.model_dir = str(model_dir)
        self.served_name = served_name
        self.start_timeout_s = start_timeout_s
        self.flags = [*DEFAULT_FLAGS, *(extra_flags or [])]
        if max_model_len is not None:
            at = self.flags.index("--max-model-len")
            self.flags[at + 1] = str(max_model_len)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._scratch = Path(tempfile.mkdtemp(prefix="clinsim-vllm-"))
        self.log_path = self._scratch / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "VLLM_CPU_KVCACHE_SPACE"}
        cache = str(self._scratch / "cache")
        env.update(
            VLLM_ENABLE_V1_MULTIPROCESSING="0",
            VLLM_CACHE_ROOT=cache,
            XDG_CACHE_HOME=cache,
            TMPDIR=str(self._scratch),
            HF_HUB_OFFLINE="1",
            VLLM_NO_USAGE_STATS="1",
            VLLM_LOGGING_LEVEL="WARNING",
        )
        return env

    def start(self) -> VLLMServer:
        command = [
            self.python, "-m", "vllm.entrypoints.openai.api_server",
            "--model", self.model_dir, "--served-model-name", self.served_name,
            "--host", "127.0.0.1", "--port", str(self.port), *self.flags,
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self._environment()
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"vLLM exited with code {code} at start-up:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"vLLM not healthy after {self.start_timeout_s:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
