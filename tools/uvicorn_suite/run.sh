#!/usr/bin/env bash
# uvicorn's own WebSocket tests (tests/protocols/test_websocket.py of the pinned
# uvicorn sdist) with fastws.uvicorn:WebSocketProtocol in place of its built-ins
# (fastws_swap.py), on both fastws implementations. Their code is downloaded here,
# never kept in this repository. PYTHON: the interpreter with fastws and the
# `uvicorn` extra installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
version="$("$python" -c 'import uvicorn; print(uvicorn.__version__)')"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastws-uvicorn-suite.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$python" -m pip install -q httpx2 pytest-xdist trustme zttp  # their test-only dependencies
"$python" -m pip download -q --no-binary :all: --no-deps -d "$work" "uvicorn==$version"
tar -xzf "$work/uvicorn-$version.tar.gz" -C "$work"
cd "$work/uvicorn-$version"
for implementation in cython python; do
    echo "--- uvicorn $version tests/protocols/test_websocket.py, fastws $implementation"
    no_ext=0; [ "$implementation" = python ] && no_ext=1
    # Their addopts with 2 xdist workers instead of 8; the rest of their pytest
    # settings (warnings are errors, strict config and markers) stay.
    FASTWS_NO_EXTENSIONS=$no_ext PYTHONPATH="$here" "$python" -m pytest -p fastws_swap -p no:cacheprovider \
        -o addopts="-rxXs --strict-config --strict-markers" -n 2 -q tests/protocols/test_websocket.py
done
