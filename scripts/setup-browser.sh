#!/usr/bin/env bash
# Install Debian's Chromium for the report's browser tests (driven by playwright's Python API,
# which the test extras install; playwright's own browser download is never used).
# Idempotent: exits at once when Chromium is already installed.
set -euo pipefail

CHROMIUM="${CLINSIM_CHROMIUM:-/usr/bin/chromium}"

if [[ -x "$CHROMIUM" ]]; then
    echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
    exit 0
fi

SUDO=()
if [[ "$(id -u)" != "0" ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "setup-browser: $CHROMIUM missing; install Debian's chromium package as root" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

echo "setup-browser: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq chromium >/dev/null
"$CHROMIUM" --version 2>/dev/null | head -n 1
