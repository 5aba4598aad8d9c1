#!/usr/bin/env bash
# valgrind memcheck over the C paths: the C kernel test program, then the Cython
# extension (a plain -O1 -g build in its own venv, out of the source tree) under the
# test modules that drive it. Fails on any invalid read or write, use of
# uninitialised memory or definite leak in our code.
#
#   tools/valgrind.sh [DIR]      (default: $FASTWS_VALGRIND_DIR or /tmp/fastws-plain)
#
# The kernels' program must be clean, full stop. Under Python, memcheck also reports
# the interpreter's own start-up (CPython built without --with-valgrind trips it in
# int.from_bytes and small ints, before fastws is even imported): only the error
# contexts and definite leaks whose stack passes through the extension or the
# kernels count. Logs stay in DIR/valgrind-*.log. FASTWS_VALGRIND_TESTS overrides the
# test modules. valgrind has no AVX-512: under it the kernels run AVX2 at most.
# Slow: about 30 minutes on 2 shared cores (3 for the kernels, the rest for ~1,300
# Cython test cases, hypothesis examples included, under memcheck).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${FASTWS_VALGRIND_DIR:-${TMPDIR:-/tmp}/fastws-plain}}"
tests="${FASTWS_VALGRIND_TESTS:-test_frames.py test_masking.py test_utf8.py test_close.py}"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is required (Debian: apt-get install valgrind)" >&2; exit 1; }
mkdir -p "$dir"
memcheck=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --track-origins=yes --num-callers=40)
status=0

echo "=== C kernel tests under memcheck"
gcc -std=c99 -O1 -g "$root"/src/fastws/_kernels/*.c "$root/tests/c/test_kernels.c" -o "$dir/test_kernels" || exit 1
"${memcheck[@]}" --error-exitcode=99 --errors-for-leak-kinds=definite --log-file="$dir/valgrind-kernels.log" \
    "$dir/test_kernels" --quick >"$dir/valgrind-kernels.out" 2>&1
code=$?
tail -n 1 "$dir/valgrind-kernels.out"
grep -E "ERROR SUMMARY|definitely lost|in use at exit" "$dir/valgrind-kernels.log" | sed 's/^==[0-9]*== /    /'
if [ "$code" != 0 ]; then status=1; echo "!!! memcheck: C kernel tests (exit $code), see $dir/valgrind-kernels.log"; fi

echo "=== Cython extension under memcheck: $tests"
if [ ! -x "$dir/venv/bin/python" ] || [ "${FASTWS_VALGRIND_REBUILD:-1}" = 1 ]; then
    bash "$root/tools/build_instrumented.sh" --plain "$dir" >"$dir/build.log" 2>&1 || { tail -n 40 "$dir/build.log"; exit 1; }
fi
# PYTHONMALLOC=malloc: every object through malloc, so memcheck sees each one.
# Only the Cython cases: the pure ones run none of our C.
(cd "$root/tests" && PYTHONMALLOC=malloc "${memcheck[@]}" --log-file="$dir/valgrind-python.log" \
    "$dir/venv/bin/python" -m pytest -q -p no:cacheprovider -k "not python" --rootdir="$root" $tests \
    >"$dir/valgrind-python.out" 2>&1)
code=$?
tail -n 1 "$dir/valgrind-python.out"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|in use at exit" "$dir/valgrind-python.log" | sed 's/^==[0-9]*== /    /'
[ "$code" = 0 ] || { status=1; echo "!!! the tests failed under valgrind (exit $code), see $dir/valgrind-python.out"; }
# Each report is a block of lines between blank "==PID== " lines: keep those that
# pass through our code.
ours="$(awk '/^==[0-9]+== $/ { if (block ~ /_speedups|fastws_|_kernels\//) print block; block = ""; next } { block = block "\n" $0 }' "$dir/valgrind-python.log")"
errors="$(grep -cE "Invalid (read|write)|uninitialised|Invalid free|Mismatched free|overlap" <<<"$ours")"
leaks="$(grep -cE "definitely lost in" <<<"$ours")"
echo "    reports through fastws's C: $errors invalid access/uninitialised, $leaks definite leaks"
if [ "$errors" != 0 ] || [ "$leaks" != 0 ]; then
    status=1
    echo "!!! memcheck: reports in fastws's C:"
    head -n 200 <<<"$ours"
fi
if [ "$status" = 0 ]; then echo "valgrind: no invalid access, no definite leak in fastws's C"; fi
exit "$status"
