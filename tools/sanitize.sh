#!/usr/bin/env bash
# The sanitizer run: fastws's extension built with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer (plus libFuzzer coverage), installed into its own venv
# out of the source tree, then the WHOLE test suite against it, then a short run of
# every fuzz target against it. Any sanitizer report fails the run.
#
#   tools/sanitize.sh [FUZZ_SECONDS]     (default 10; 0 skips the fuzz runs)
#
# The build goes to $FASTWS_SAN_DIR (default /tmp/fastws-san); needs clang and
# libclang-rt-14-dev (or any clang with its compiler-rt).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-10}"
san="${FASTWS_SAN_DIR:-${TMPDIR:-/tmp}/fastws-san}"
export FASTWS_SAN_DIR="$san"

echo "=== build: ASan + UBSan + fuzzer coverage, in $san"
bash "$root/tools/build_instrumented.sh" "$san" 2>&1 | grep -v "^WARNING: Location" || exit 1
# The test suite's own extras (pyproject's [test]), into the same venv.
"$san/venv/bin/python" - "$root/pyproject.toml" <<'EOF' | xargs -r -d '\n' "$san/venv/bin/pip" install -q 2>&1 | grep -v "^WARNING: Location"
import sys, tomllib
with open(sys.argv[1], "rb") as file:
    print("\n".join(tomllib.load(file)["project"]["optional-dependencies"].get("test", [])))
EOF

# shellcheck disable=SC1091
source "$san/env"
status=0
echo "=== the whole test suite against the sanitized extension"
# Chromium cannot run with the ASan runtime preloaded; the browser test drives no
# C of ours anyway. The RSS bounds are checked by the plain runs (ASan's shadow
# memory and quarantine inflate RSS): the tests see LD_PRELOAD and skip just those
# assertions.
export FASTWS_NO_BROWSER_TESTS=1
export FASTWS_NO_REDIS_TESTS=1  # the hub over a Redis server: .ci/run's own suite runs them
# From tests/ with the installed package: src/ is not on the path.
(cd "$root/tests" && "$FASTWS_SAN_PYTHON" -c 'import fastws, sys; assert "site-packages" in fastws.__file__, fastws.__file__' &&
    "$FASTWS_SAN_PYTHON" -m pytest -q -p no:cacheprovider --rootdir="$root" "$root/tests") 2>&1 | tee "$san/tests.log" | tail -n 15
[ "${PIPESTATUS[0]}" = 0 ] || status=1
if grep -qE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$san/tests.log"; then
    echo "!!! sanitizer report in the test run:"
    grep -E -A30 "ERROR: AddressSanitizer|runtime error:" "$san/tests.log" | head -n 80
    status=1
fi

if [ "$seconds" != 0 ]; then
    echo "=== every fuzz target for ${seconds}s against the sanitized extension"
    bash "$root/fuzz/run_all.sh" "$seconds" || status=1
fi
if [ "$status" = 0 ]; then echo "sanitize: no sanitizer report, every test passed"; else echo "sanitize: FAILED"; fi
exit "$status"
