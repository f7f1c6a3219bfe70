#!/usr/bin/env bash
# mypy (strict) over the installed namespace. The folders agents/ environments/ tools/
# scenarios/ install as clinsim.*; mypy cannot follow setuptools' package-dir mapping, so we
# lay the same tree out with symlinks in a scratch folder and check the package there.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
mypy="${MYPY:-$repo/.venv/bin/mypy}"
mkdir -p "$repo/build"
root="$(mktemp -d "$repo/build/typecheck.XXXXXX")"
trap 'rm -rf "$root"' EXIT
mkdir "$root/clinsim"
for entry in "$repo"/clinsim/*; do
    [ "$(basename "$entry")" = __pycache__ ] && continue
    ln -s "$entry" "$root/clinsim/$(basename "$entry")"
done
for folder in agents environments tools scenarios; do ln -s "$repo/$folder" "$root/clinsim/$folder"; done
cd "$root"
"$mypy" --config-file "$repo/pyproject.toml" --cache-dir "$repo/.mypy_cache" -p clinsim "$@"
