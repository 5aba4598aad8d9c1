#!/usr/bin/env bash
# Free-threaded CPython 3.14 (3.14t) built from source with --disable-gil, then the whole
# suite (both implementations) against the wheel installed there, with
# FASTWS_REQUIRE_FREE_THREADING=1 (importing fastws must leave the GIL off), and the thread
# stress test for longer.
#
#   bash tools/freethreaded.sh                         # ../shared/Python-3.14*.tar.*, else Debian unstable's source
#   FASTWS_CPYTHON_TARBALL=Python-3.14.x.tar.xz bash tools/freethreaded.sh
#
# Environment: FASTWS_STRESS_SECONDS (default 5), FASTWS_FREETHREADED_PREFIX (default a temp
# dir; an existing build there is reused). Commit first: the wheel comes from a clean clone
# of HEAD. The build is plain (make -j2, no PGO or LTO): a few minutes on two cores. Exit
# code 3 when no CPython source could be had (nothing was tested).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastws-ft.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="${FASTWS_FREETHREADED_PREFIX:-$work/python}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
start=$SECONDS
step() { echo "=== [$((SECONDS - start))s] $*"; }

if ! [ -x "$prefix/bin/python3.14t" ]; then
    tarball="${FASTWS_CPYTHON_TARBALL:-}"
    if [ -z "$tarball" ]; then
        # A tarball put in the shared folder beside the checkout (as CI lays it out).
        tarball="$(ls "$root"/../shared/Python-3.14*.tar.* "$root"/../shared/python3.14_*.orig.tar.* 2>/dev/null | head -n 1 || true)"
    fi
    if [ -z "$tarball" ]; then
        step "CPython 3.14 source: apt-get source python3.14 (Debian unstable, a private sources list)"
        mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
        echo "deb-src http://deb.debian.org/debian unstable main" > "$work/apt/sources.list"
        apt_options=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o Acquire::Check-Valid-Until=false)
        apt-get "${apt_options[@]}" update -qq
        (cd "$work/src" && apt-get "${apt_options[@]}" source --download-only python3.14) > "$work/apt.log" 2>&1 || true
        tarball="$(ls "$work"/src/python3.14_*.orig.tar.* 2>/dev/null | head -n 1 || true)"
        if [ -z "$tarball" ]; then
            grep -E '^(E|Err):' "$work/apt.log" | head -n 3 >&2
            echo "!!! no CPython 3.14 source tarball could be downloaded: the free-threaded build was not made" >&2
            exit 3
        fi
    fi
    step "build $(basename "$tarball") with --disable-gil (make -j2, no PGO/LTO) into $prefix"
    mkdir -p "$work/build" && tar -xf "$tarball" -C "$work/build" --strip-components=1
    build_start=$SECONDS
    (cd "$work/build" && ./configure -q --disable-gil --prefix="$prefix" --without-ensurepip > "$work/configure.log" 2>&1 \
        && make -s -j2 > "$work/make.log" 2>&1 && make -s install > "$work/install.log" 2>&1) \
        || { tail -n 30 "$work"/*.log; exit 1; }
    step "built in $((SECONDS - build_start)) s"
fi
python="$prefix/bin/python3.14t"
"$python" -c 'import sys, sysconfig; assert sysconfig.get_config_var("Py_GIL_DISABLED"), "not a free-threaded build"; assert not sys._is_gil_enabled(); print(sys.version)'

step "clean clone of HEAD ($(git -C "$root" rev-parse --short HEAD)), the wheel, a virtualenv with it and the test extra"
git clone --quiet --no-hardlinks "$root" "$work/src-clone"
"$python" -m venv "$work/venv"  # venv bootstraps pip from the bundled wheel
"$work/venv/bin/python" -m ensurepip -q 2>/dev/null || true
"$work/venv/bin/pip" install -q build
(cd "$work/src-clone" && FASTWS_BUILD_EXTENSION=yes "$work/venv/bin/python" -m build -q --wheel --outdir "$work/dist" . > "$work/build-wheel.log" 2>&1) \
    || { tail -n 30 "$work/build-wheel.log"; exit 1; }
"$work/venv/bin/pip" install -q "$(ls "$work"/dist/*.whl)[test]"

mkdir -p "$work/run"
step "the whole suite on 3.14t against the installed wheel (cython and python); the GIL must stay off"
(cd "$work/run" && FASTWS_REQUIRE_FREE_THREADING=1 FASTWS_NO_BROWSER_TESTS=1 PYTHONPATH="$work/src-clone/tools" \
    "$work/venv/bin/python" -m pytest "$work/src-clone/tests" -p nox_installed_check -p no:cacheprovider -q \
    | grep -vE '^[.sxFE]+ *(\[ *[0-9]+%\])?$')
step "the thread stress test, ${FASTWS_STRESS_SECONDS:-5} s per case"
(cd "$work/run" && FASTWS_REQUIRE_FREE_THREADING=1 FASTWS_STRESS_SECONDS="${FASTWS_STRESS_SECONDS:-5}" \
    "$work/venv/bin/python" -m pytest "$work/src-clone/tests/test_threads.py" -p no:cacheprovider -q | tail -n 6)
step "free-threaded check passed"
