#!/usr/bin/env bash
# Runs the Autobahn testsuite (RFC 6455/7692 conformance) against fastws:
#   the fuzzingclient against `python -m fastws echo`   (role "server")
#   the fuzzingserver against autobahn/client.py         (role "client")
#   the fuzzingclient against autobahn/uvicorn_echo.py on uvicorn with
#     --ws fastws.uvicorn:WebSocketProtocol               (role "uvicorn", only when asked)
#   the fuzzingclient against websockets' echo server, alone and with fastws.compat
#     installed (roles "websockets" and "websockets+fastws", only when asked)
# for the Cython and the pure-Python implementation (FASTWS_NO_EXTENSIONS=1), then
# summarises each report and fails on any case that is not OK or INFORMATIONAL
# (behavior or behaviorClose: NON-STRICT, UNIMPLEMENTED and FAILED all fail).
#
#   autobahn/run.sh [-c CASES] [-r server|client|uvicorn|websockets|websockets+fastws|both] [-i cython|python|both] [-j JOBS]
#   autobahn/run.sh -r "websockets websockets+fastws" -i cython -c '1.*-10.*'   # the adapter against websockets alone
#
# JOBS: how many role/implementation runs go at once (default 1).
# CASES: comma-separated patterns, with ranges of major numbers: "1.*-10.*",
# "12.*,13.*", "9.1.*,6.4.1" (default: every case, 1.* to 13.*).
# Environment: PYTHON (the interpreter with fastws; default .venv/bin/python or
# python3), AUTOBAHN_VENV (the suite's Python 2.7 virtualenv, made when missing;
# default ${TMPDIR:-/tmp}/fastws-autobahn), AUTOBAHN_REPORTS (default autobahn/reports).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cases="1.*-13.*"
roles="server client"
impls="cython python"
jobs=1
while getopts "c:r:i:j:" option; do
    case "$option" in
        c) cases="$OPTARG" ;;
        r) [ "$OPTARG" = both ] || roles="$OPTARG" ;;
        i) [ "$OPTARG" = both ] || impls="$OPTARG" ;;
        j) jobs="$OPTARG" ;;
        *) sed -n '2,24p' "$0"; exit 2 ;;
    esac
done
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
venv="${AUTOBAHN_VENV:-${TMPDIR:-/tmp}/fastws-autobahn}"
reports="${AUTOBAHN_REPORTS:-$here/reports}"
requirements="$here/requirements-py27.txt"  # the suite's pinned Python 2.7 dependencies

# The suite is Python 2 code: its own virtualenv on pyenv's CPython 2.7, never the project's.
if [ ! -x "$venv/ab/bin/wstest" ]; then
    echo "=== Autobahn testsuite: making $venv"
    python2="${PYTHON2:-$(pyenv root 2>/dev/null)/versions/2.7.18/bin/python2.7}"
    rm -rf "$venv" && mkdir -p "$venv"
    python3 -m venv "$venv/tools"
    "$venv/tools/bin/pip" install -q 'virtualenv<20.22'
    "$venv/tools/bin/virtualenv" -q -p "$python2" "$venv/ab"
    "$venv/ab/bin/pip" install -q --no-python-version-warning -r "$requirements" 2>&1 | grep -v "^WARNING: \|DEPRECATION" || true
    "$venv/ab/bin/pip" install -q --no-python-version-warning --no-deps autobahntestsuite==25.10.1 2>&1 | grep -v "^WARNING: \|DEPRECATION" || true
    "$venv/ab/bin/wstest" --help >/dev/null
fi
wstest=("$venv/ab/bin/python" "$here/wstest_loopback.py")

# "1.*-10.*,12.2.*" -> ["1.*", ..., "10.*", "12.2.*"]
cases_json="$("$PYTHON" - "$cases" <<'PY'
import json, re, sys
out = []
for part in sys.argv[1].split(","):
    match = re.fullmatch(r"(\d+)\.\*-(\d+)\.\*", part.strip())
    if match:
        out += [f"{major}.*" for major in range(int(match[1]), int(match[2]) + 1)]
    elif part.strip():
        out.append(part.strip())
print(json.dumps(out))
PY
)"
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        "$PYTHON" -c "import socket, sys; socket.create_connection(('127.0.0.1', $1), 0.2).close()" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2; return 1
}
impl_env() { if [ "$1" = python ]; then echo 1; else echo ""; fi; }

# One role and implementation: report in $reports/ROLE-IMPL, summary in its summary.txt.
run_one() {
    local role="$1" impl="$2" agent="fastws-$2" out="$reports/$1-$2" port started seconds result=0
    rm -rf "$out" && mkdir -p "$out"
    started=$(date +%s)
    port=$(free_port)
    if [ "$role" != client ]; then
        case "$role" in
            server)
                FASTWS_NO_EXTENSIONS=$(impl_env "$impl") "$PYTHON" -m fastws echo --host 127.0.0.1 --port "$port" --max-fragments 0 --ping-interval 0 >"$out/echo.log" 2>&1 & ;;
            uvicorn)
                FASTWS_NO_EXTENSIONS=$(impl_env "$impl") "$PYTHON" -m uvicorn uvicorn_echo:app --app-dir "$here" --host 127.0.0.1 --port "$port" \
                    --ws fastws.uvicorn:WebSocketProtocol --ws-max-size 16777216 --log-level warning >"$out/echo.log" 2>&1 & ;;
            *)  # websockets or websockets+fastws: websockets' echo server, alone or with fastws.compat
                FASTWS_NO_EXTENSIONS=$(impl_env "$impl") PYTHONPATH="$root/src" "$PYTHON" "$root/bench/echo_servers.py" "$role" "$port" >"$out/echo.log" 2>&1 & ;;
        esac
        local server_pid=$!
        wait_port "$port"
        "$PYTHON" -c 'import json, sys; print(json.dumps({"outdir": sys.argv[1], "servers": [{"agent": sys.argv[2], "url": "ws://127.0.0.1:" + sys.argv[3]}], "cases": json.loads(sys.argv[4]), "exclude-cases": [], "exclude-agent-cases": {}}, indent=2))' \
            "$out" "$agent" "$port" "$cases_json" >"$out/spec.json"
        (cd "$out" && "${wstest[@]}" -m fuzzingclient -s spec.json >wstest.log 2>&1) || { echo "wstest failed: $out/wstest.log"; result=1; }
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    else
        "$PYTHON" -c 'import json, sys; print(json.dumps({"url": "ws://127.0.0.1:" + sys.argv[2], "outdir": sys.argv[1], "cases": json.loads(sys.argv[3]), "exclude-cases": [], "exclude-agent-cases": {}}, indent=2))' \
            "$out" "$port" "$cases_json" >"$out/spec.json"
        (cd "$out" && exec "${wstest[@]}" -m fuzzingserver -s spec.json --webport 0 >wstest.log 2>&1) &
        local wstest_pid=$!
        wait_port "$port"
        FASTWS_NO_EXTENSIONS=$(impl_env "$impl") "$PYTHON" "$here/client.py" "ws://127.0.0.1:$port" "$agent" >"$out/client.log" 2>&1 || { echo "client failed: $out/client.log"; tail -n 20 "$out/client.log"; result=1; }
        kill -9 "$wstest_pid" 2>/dev/null || true  # SIGKILL: SIGTERM would record a case as FAILED
        wait "$wstest_pid" 2>/dev/null || true
    fi
    seconds=$(( $(date +%s) - started ))
    "$PYTHON" "$here/summarise.py" "$out/index.json" "$role" "$impl" "$seconds" >"$out/summary.txt" || result=1
    return $result
}

# Up to $jobs runs at once: wstest is single-threaded and is most of the time.
status=0
pids=()
labels=()
for role in $roles; do
    for impl in $impls; do
        echo "=== Autobahn: fastws $impl as $role, cases $cases"
        run_one "$role" "$impl" &
        pids+=($!)
        labels+=("$role-$impl")
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    done
done
for index in "${!pids[@]}"; do
    wait "${pids[$index]}" || status=1
    cat "$reports/${labels[$index]}/summary.txt" 2>/dev/null || { echo "Autobahn ${labels[$index]}: no summary"; status=1; }
done
exit $status
