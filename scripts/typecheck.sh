#!/usr/bin/env bash
# mypy (strict) over the installed namespace. The folders agents/ environments/ tools/
# scenarios/ install as clinsim.*; mypy cannot follow setuptools' package-dir mapping, so we
# lay the same tree out with symlinks under build/typecheck and check the package there.
set -euo pipefail
cd "$(dirname "$0")/.."
root="build/typecheck"
rm -rf "$root" && mkdir -p "$root/clinsim"
for entry in clinsim/*; do [ "$(basename "$entry")" = __pycache__ ] && continue; ln -s "$PWD/$entry" "$root/clinsim/$(basename "$entry")"; done
for folder in agents environments tools scenarios; do ln -s "$PWD/$folder" "$root/clinsim/$folder"; done
cd "$root"
exec "${MYPY:-../../.venv/bin/mypy}" --config-file ../../pyproject.toml -p clinsim "$@"
