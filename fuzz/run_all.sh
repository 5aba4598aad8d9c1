#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), one after the other, and fails
# on any finding (a crash, a disagreement between the implementations, an
# undocumented exception, a sanitizer report, a leak past the RSS limit).
#
#   fuzz/run_all.sh [SECONDS] [TARGET...]
#
# Runs against the sanitized build made by tools/build_instrumented.sh (built first
# if $FASTWS_SAN_DIR, default /tmp/fastws-san, has none), so libFuzzer sees the C
# code's coverage and ASan/UBSan watch it. FASTWS_FUZZ_PYTHON=/path/to/python runs
# plain Python coverage against whatever fastws that interpreter imports instead.
#
# The seed corpus fuzz/corpus/<target>/ is read, never written: what the run adds
# goes to a scratch directory, and a crashing input to fuzz/findings/.
# FASTWS_FUZZ_TALLY=FILE appends "target executions" lines to FILE.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
seconds="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
    for file in "$here"/fuzz_*.py; do targets+=("$(basename "$file" .py)"); done
fi

if [ -n "${FASTWS_FUZZ_PYTHON:-}" ]; then
    python="$FASTWS_FUZZ_PYTHON"
else
    san="${FASTWS_SAN_DIR:-${TMPDIR:-/tmp}/fastws-san}"
    if [ ! -f "$san/env" ]; then
        bash "$root/tools/build_instrumented.sh" "$san" || exit 1
    fi
    # shellcheck disable=SC1091
    source "$san/env"
    python="$FASTWS_SAN_PYTHON"
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/fastws-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$here/findings"
status=0
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    echo "=== $target: ${seconds}s"
    # Run from / so that the installed fastws is imported, not src/.
    (cd / && "$python" "$here/$target.py" "$scratch/$target" "$here/corpus/$target" \
        -max_total_time="$seconds" -rss_limit_mb="${FASTWS_FUZZ_RSS_MB:-2048}" -max_len=4096 -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$here/findings/$target-") >"$log" 2>&1
    code=$?
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)"
    echo "    executions: ${runs:-?}  ${cov:-}  exit: $code"
    if [ -n "${FASTWS_FUZZ_TALLY:-}" ]; then echo "$target ${runs:-0}" >>"$FASTWS_FUZZ_TALLY"; fi
    if [ "$code" != 0 ]; then
        status=1
        echo "!!! $target FOUND SOMETHING (exit $code); input in $here/findings/:"
        tail -n 60 "$log"
    fi
done
if [ "$status" = 0 ]; then echo "fuzz: all ${#targets[@]} targets ran ${seconds}s with no finding"; else echo "fuzz: FINDINGS"; fi
exit "$status"
