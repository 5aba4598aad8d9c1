#!/usr/bin/env bash
# CI: the whole test suite on the oldest and the newest supported CPython (nox, see
# noxfile.py), each against its installed build, with gcc and clang -Wall -Wextra -Werror.
# Pass other session names to run those instead: bash tools/nox_ci.sh tests-3.11
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastws-nox.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m venv "$work/nox"
"$work/nox/bin/pip" install -q nox
sessions=("$@")
[ ${#sessions[@]} -gt 0 ] || sessions=(tests-3.10 tests-3.13 cwarnings-3.10 cwarnings-3.13)
cd "$root"
time "$work/nox/bin/nox" --envdir "$work/envs" --non-interactive -s "${sessions[@]}"
