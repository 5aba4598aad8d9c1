#!/usr/bin/env bash
# The Autobahn testsuite's fuzzingclient against websockets' asyncio echo server
# (bench/echo_servers.py), without and with fastws.compat installed, one after the other;
# prints both summaries. Not in CI (it takes several minutes).
#
#   autobahn/websockets_compat.sh [CASES]     (default "1.*-10.*"; same syntax as run.sh)
#
# Environment: PYTHON (with fastws and websockets; default .venv/bin/python),
# AUTOBAHN_VENV (as for run.sh: made by run.sh when missing), AUTOBAHN_REPORTS.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cases="${1:-1.*-10.*}"
PYTHON="${PYTHON:-$root/.venv/bin/python}"
venv="${AUTOBAHN_VENV:-${TMPDIR:-/tmp}/fastws-autobahn}"
reports="${AUTOBAHN_REPORTS:-$here/reports}"
[ -x "$venv/ab/bin/wstest" ] || { echo "no Autobahn testsuite at $venv: run autobahn/run.sh once" >&2; exit 2; }
cases_json="$("$PYTHON" -c 'import json, re, sys
out = []
for part in sys.argv[1].split(","):
    m = re.fullmatch(r"(\d+)\.\*-(\d+)\.\*", part.strip())
    out += [f"{n}.*" for n in range(int(m[1]), int(m[2]) + 1)] if m else [part.strip()]
print(json.dumps(out))' "$cases")"
for kind in websockets websockets+fastws; do
    out="$reports/websockets-server-$kind"
    rm -rf "$out" && mkdir -p "$out"
    port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    PYTHONPATH="$root/src" "$PYTHON" "$root/bench/echo_servers.py" "$kind" "$port" >"$out/echo.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do "$PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && break; sleep 0.1; done
    "$PYTHON" -c 'import json, sys; print(json.dumps({"outdir": sys.argv[1], "servers": [{"agent": sys.argv[2], "url": "ws://127.0.0.1:" + sys.argv[3]}], "cases": json.loads(sys.argv[4]), "exclude-cases": [], "exclude-agent-cases": {}}))' \
        "$out" "$kind" "$port" "$cases_json" >"$out/spec.json"
    started=$(date +%s)
    (cd "$out" && "$venv/ab/bin/python" "$here/wstest_loopback.py" -m fuzzingclient -s spec.json >wstest.log 2>&1) || echo "wstest failed: $out/wstest.log"
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    "$PYTHON" "$here/summarise.py" "$out/index.json" server "$kind" $(( $(date +%s) - started )) || true
done
