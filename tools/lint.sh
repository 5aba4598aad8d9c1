#!/usr/bin/env bash
# ruff, lint and format check, with the version pinned in pyproject.toml's `lint` extra
# (installed into a temp virtualenv, without building fastws). Fix what it reports with
#   ruff format . && ruff check --fix .
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastws-lint.XXXXXX")"
trap 'rm -rf "$work"' EXIT
ruff_pin="$(python3 -c 'import sys, tomllib; print(*tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["lint"])' "$root/pyproject.toml")"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$ruff_pin"
cd "$root"
echo "$("$work/venv/bin/ruff" --version): check, then format --check"
status=0
"$work/venv/bin/ruff" check . || status=1
"$work/venv/bin/ruff" format --check . || status=1
exit $status
