#!/usr/bin/env bash
# valgrind memcheck over the C paths: the C kernel test program, then the Cython
# extension (a plain -O1 -g build in its own venv, out of the source tree) under the
# test modules that drive it. Fails on any invalid read or write, use of
# uninitialised memory, or definite leak.
#
#   tools/valgrind.sh [DIR]      (default: $FASTWS_VALGRIND_DIR or /tmp/fastws-plain)
#
# FASTWS_VALGRIND_TESTS overrides the pytest selection (default below). valgrind
# has no AVX-512: under it the kernels run at the best level below, AVX2 at most.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${FASTWS_VALGRIND_DIR:-${TMPDIR:-/tmp}/fastws-plain}}"
tests="${FASTWS_VALGRIND_TESTS:-tests/test_frames.py tests/test_masking.py tests/test_utf8.py tests/test_close.py}"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is required (Debian: apt-get install valgrind)" >&2; exit 1; }
memcheck=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --track-origins=yes --num-callers=30)
status=0
out="$(mktemp -d "${TMPDIR:-/tmp}/fastws-valgrind.XXXXXX")"
trap 'rm -rf "$out"' EXIT

echo "=== C kernel tests under memcheck"
gcc -std=c99 -O1 -g "$root"/src/fastws/_kernels/*.c "$root/tests/c/test_kernels.c" -o "$out/test_kernels" || exit 1
"${memcheck[@]}" --log-file="$out/kernels.log" "$out/test_kernels" --quick >"$out/kernels.out" 2>&1
code=$?
tail -n 1 "$out/kernels.out"
grep -E "ERROR SUMMARY|definitely lost|in use at exit" "$out/kernels.log"
if [ "$code" != 0 ]; then status=1; echo "!!! memcheck: C kernel tests (exit $code)"; cat "$out/kernels.log"; fi

echo "=== Cython extension under memcheck: $tests"
if [ ! -x "$dir/venv/bin/python" ] || [ "${FASTWS_VALGRIND_REBUILD:-1}" = 1 ]; then
    bash "$root/tools/build_instrumented.sh" --plain "$dir" >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
fi
# PYTHONMALLOC=malloc: every object through malloc, so memcheck sees each one.
# Hypothesis examples are many and valgrind is ~30x slower: a smaller profile,
# and only the Cython cases (the pure ones run no C of ours).
(cd "$root/tests" && PYTHONMALLOC=malloc FASTWS_LEAK_ROUNDS=1 "${memcheck[@]}" --log-file="$out/python.log" \
    "$dir/venv/bin/python" -m pytest -q -p no:cacheprovider -x -k "not python" \
    --rootdir="$root/tests" $(for t in $tests; do echo "$root/$t"; done) >"$out/python.out" 2>&1)
code=$?
tail -n 3 "$out/python.out"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|in use at exit" "$out/python.log"
if [ "$code" != 0 ]; then
    status=1
    echo "!!! memcheck: Cython extension (exit $code)"
    grep -B2 -A25 -E "Invalid (read|write)|uninitialised|definitely lost in" "$out/python.log" | head -n 200
    tail -n 40 "$out/python.out"
fi
if [ "$status" = 0 ]; then echo "valgrind: no invalid access, no definite leak"; fi
exit "$status"
