#!/usr/bin/env bash
# Builds fastws with its extension compiled by clang under AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage (-fsanitize=fuzzer-no-link),
# installed (not editable) into its own venv, out of the source tree: the build
# happens in a copy, so the in-place build of src/ is never touched.
#
#   tools/build_instrumented.sh [DIR]          (default: $FASTWS_SAN_DIR or /tmp/fastws-san)
#   tools/build_instrumented.sh --plain DIR    no sanitizers: -O1 -g, for valgrind
#
# Leaves DIR/venv (fastws, atheris, Cython, pytest, hypothesis) and DIR/env, a file to
# source before running anything against it: it sets LD_PRELOAD to atheris's ASan
# runtime with libFuzzer linked in (Python itself is not instrumented, so the
# runtime must come first) and the sanitizer options. Re-running rebuilds fastws
# only; the venv is reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
plain=0
if [ "${1:-}" = --plain ]; then
    plain=1
    shift
fi
dir="${1:-${FASTWS_SAN_DIR:-${TMPDIR:-/tmp}/fastws-san}}"
python="${PYTHON:-python3}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! command -v clang >/dev/null; then
    echo "build_instrumented: clang is required (Debian: apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi

if [ ! -x "$dir/venv/bin/python" ]; then
    "$python" -m venv "$dir/venv"
fi
"$dir/venv/bin/pip" install -q atheris 'Cython>=3.0.10' 'setuptools>=77' wheel 'pytest>=7' 'hypothesis>=6.80'

# A copy of the sources: the files git knows, as they are in the work tree.
copy="$dir/src-copy"
rm -rf "$copy"
mkdir -p "$copy"
(cd "$root" && git ls-files -z --cached --others --exclude-standard -- src setup.py pyproject.toml README.md LICENSE |
    xargs -0 cp --parents -t "$copy")
rm -f "$copy"/src/fastws/*.so "$copy"/src/fastws/_speedups.c

# Every UBSan check is fatal, except pointer-overflow: recoverable, so that
# tools/ubsan.supp can silence Cython's NULL + 0 in the generated file (halt_on_error
# still makes any other pointer-overflow fatal).
san="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fsanitize-recover=pointer-overflow -fno-omit-frame-pointer -g"
if [ "$plain" = 1 ]; then
    # No libFuzzer, no sanitizer: valgrind's build (DWARF 4: valgrind 3.19 cannot read clang 14's DWARF 5).
    san="-O1 -gdwarf-4 -fno-omit-frame-pointer"
fi
(cd "$copy" && CC="$root/tools/cc-debug.sh clang" LDSHARED="$root/tools/cc-debug.sh clang -shared" CFLAGS="$san" LDFLAGS="$san" FASTWS_BUILD_EXTENSION=yes \
    "$dir/venv/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall .)

if [ "$plain" = 1 ]; then
    (cd / && "$dir/venv/bin/python" -c 'import fastws; assert fastws.implementation == "cython", fastws.implementation_error; print("plain -O1 -g fastws:", fastws.implementation, fastws.simd)')
    exit 0
fi

atheris_dir="$("$dir/venv/bin/python" -c 'import atheris; print(atheris.path())')"
runtime="$atheris_dir/asan_with_fuzzer.so"
if [ ! -f "$runtime" ]; then
    # No prebuilt runtime with libFuzzer: clang's own ASan runtime still serves the tests.
    runtime="$(clang -print-file-name=libclang_rt.asan-x86_64.so)"
fi
cat >"$dir/env" <<EOF
# source me: runs Python against the sanitized fastws in $dir/venv
export LD_PRELOAD="$runtime"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/tools/ubsan.supp"
export FASTWS_SAN_PYTHON="$dir/venv/bin/python"
EOF

# The build must really be instrumented, and must import under the runtime.
so="$(ls "$dir"/venv/lib/python3*/site-packages/fastws/_speedups*.so)"
symbols="$(nm "$so")"
grep -q __asan_report <<<"$symbols" || { echo "build_instrumented: $so is not built with ASan" >&2; exit 1; }
grep -q __sanitizer_cov <<<"$symbols" || { echo "build_instrumented: $so has no coverage instrumentation" >&2; exit 1; }
(source "$dir/env" && cd / && "$dir/venv/bin/python" -c 'import fastws; assert fastws.implementation == "cython", fastws.implementation_error; print("sanitized fastws:", fastws.implementation, fastws.simd)')
echo "built: $so"
echo "use:   source $dir/env"
