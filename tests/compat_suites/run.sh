#!/bin/sh
# Runs the test suites of the libraries that fastws.compat accelerates, with the fastws
# adapter installed (tests/compat_suites/fastws_plugin.py), and fails on any failure:
#   wsproto          tests/                          (fastws.compat.wsproto)
#   autobahn         src/autobahn/websocket/test/    (fastws.compat.autobahn)
#   websocket-client websocket/tests/                (fastws as its wsaccel)
# Each sdist comes from PyPI (pip download, cached in $FASTWS_SUITES_CACHE); the pinned
# release and the suites' test dependencies are installed into the running Python,
# which must already have fastws (or PYTHONPATH pointing at its src/).
#
# Usage: tests/compat_suites/run.sh [wsproto|autobahn|websocket-client]...
# Environment: PYTHON (default python3), FASTWS_SUITES_CACHE (default ~/.cache/fastws-suites).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
CACHE=${FASTWS_SUITES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fastws-suites}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

WSPROTO=wsproto==1.3.2
AUTOBAHN=autobahn==26.10.2
WEBSOCKET_CLIENT=websocket-client==1.9.2
TEST_TOOLS="pytest>=7.1"

# pip as the machine configures it (the package registry and any local mirror).
pypi() {
    "$PYTHON" -m pip --disable-pip-version-check -q "$@"
}

# unpack NAME==VERSION: downloads its sdist once, unpacks it, prints the directory.
unpack() {
    mkdir -p "$CACHE"
    name=${1%%==*}
    version=${1##*==}
    archive=$(ls "$CACHE" | grep -i "^$(echo "$name" | tr - _)-$version\.tar\.gz$\|^$name-$version\.tar\.gz$" | head -n 1 || true)
    if [ -z "$archive" ]; then
        pypi download --no-deps --no-binary :all: "$1" -d "$CACHE" >&2
        archive=$(ls "$CACHE" | grep -i "^$(echo "$name" | tr - _)-$version\.tar\.gz$\|^$name-$version\.tar\.gz$" | head -n 1)
    fi
    tar -xzf "$CACHE/$archive" -C "$WORK"
    echo "$WORK/${archive%.tar.gz}"
}

# suite TARGET DIRECTORY TESTS [pytest arguments]: the suite, with the adapter installed.
suite() {
    target=$1
    directory=$2
    tests=$3
    shift 3
    echo "== $target: $tests with fastws.compat.$target installed"
    (cd "$directory" && PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" FASTWS_COMPAT_TARGET=$target \
        "$PYTHON" -m pytest -p fastws_plugin -p no:cacheprovider -rs "$tests" "$@")
}

run_wsproto() {
    pypi install "$WSPROTO" h11 "$TEST_TOOLS"
    directory=$(unpack "$WSPROTO")
    # The installed release, not the sdist's src/ (the tests import wsproto by name).
    rm -rf "$directory/src"
    suite wsproto "$directory" tests
}

run_autobahn() {
    pypi install "$AUTOBAHN" "$TEST_TOOLS"
    directory=$(unpack "$AUTOBAHN")
    # The tests are a package inside autobahn: run them from the installed release
    # (with its compiled NVX modules), replaced by the sdist's copy of the tests.
    installed=$("$PYTHON" -c 'import autobahn.websocket, os; print(os.path.dirname(autobahn.websocket.__file__))')
    rm -rf "$installed/test"
    cp -R "$directory/src/autobahn/websocket/test" "$installed/test"
    USE_ASYNCIO=1 suite autobahn "$directory" "$installed/test" -c "$directory/pytest.ini" --rootdir "$directory"
}

run_websocket_client() {
    pypi install "$WEBSOCKET_CLIENT" "$TEST_TOOLS"
    directory=$(unpack "$WEBSOCKET_CLIENT")
    installed=$("$PYTHON" -c 'import websocket, os; print(os.path.dirname(websocket.__file__))')
    rm -rf "$installed/tests"
    cp -R "$directory/websocket/tests" "$installed/tests"
    suite wsaccel "$directory" "$installed/tests"
}

for library in ${@:-wsproto autobahn websocket-client}; do
    case $library in
    wsproto) run_wsproto ;;
    autobahn) run_autobahn ;;
    websocket-client) run_websocket_client ;;
    *) echo "unknown suite: $library" >&2 && exit 2 ;;
    esac
done
