#!/usr/bin/env bash
# CI's hardening step, from a fresh clone: installs what it needs, then
#   1. runs every fuzz target for FASTWS_FUZZ_SECONDS (default 30) each, against the
#      extension built with ASan + UBSan + libFuzzer coverage;
#   2. runs the C-path tests (the modules that drive the extension) against that
#      same sanitized build.
# Fails on any finding or sanitizer report. About 5 minutes on 2 cores from a fresh
# clone (build 1 min, fuzzing 7 x 30 s plus start-up, tests under ASan 1 min).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PIP_DISABLE_PIP_VERSION_CHECK=1
start=$SECONDS

missing=()
command -v clang >/dev/null || missing+=(clang)
[ -f "$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null || echo none)" ] || missing+=(libclang-rt-14-dev)
command -v valgrind >/dev/null || missing+=(valgrind)
if [ ${#missing[@]} != 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "=== installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev valgrind >/dev/null
    else
        echo "fuzz/ci.sh: missing ${missing[*]} and cannot apt-get them" >&2
        exit 1
    fi
fi

san="${FASTWS_SAN_DIR:-$root/.venv-san}"
export FASTWS_SAN_DIR="$san"
echo "=== sanitized build (ASan + UBSan + fuzzer coverage) in $san"
mkdir -p "$san"
if ! bash tools/build_instrumented.sh "$san" >"$san/build.log" 2>&1; then
    grep -v "^WARNING: Location" "$san/build.log" | tail -n 40
    echo "fuzz/ci.sh: the sanitized build failed" >&2
    exit 1
fi
tail -n 3 "$san/build.log"

status=0
echo "=== fuzz: every target ${FASTWS_FUZZ_SECONDS:-30}s"
bash fuzz/run_all.sh "${FASTWS_FUZZ_SECONDS:-30}" || status=1

echo "=== C-path tests against the sanitized extension"
# shellcheck disable=SC1091
source "$san/env"
(cd tests && "$FASTWS_SAN_PYTHON" -m pytest -q -p no:cacheprovider --rootdir="$root" \
    test_frames.py test_masking.py test_utf8.py test_close.py test_differential.py test_impl.py test_bounds.py test_leaks.py) 2>&1 |
    tee "$san/ci-tests.log" | tail -n 6
[ "${PIPESTATUS[0]}" = 0 ] || status=1
if grep -qE "ERROR: AddressSanitizer|runtime error:" "$san/ci-tests.log"; then
    grep -E -A30 "ERROR: AddressSanitizer|runtime error:" "$san/ci-tests.log" | head -n 80
    status=1
fi
if [ "$status" = 0 ]; then echo "fuzz/ci.sh: passed in $((SECONDS - start))s"; else echo "fuzz/ci.sh: FAILED after $((SECONDS - start))s"; fi
exit "$status"
