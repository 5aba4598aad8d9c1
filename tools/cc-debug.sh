#!/usr/bin/env bash
# The compiler of the instrumented builds (tools/build_instrumented.sh): runs
# "$@" but drops the -g0 and -O3 that setup.py appends for release wheels, so that
# sanitizer and valgrind reports have file:line and the -O level of CFLAGS holds.
args=()
for arg in "$@"; do
    case "$arg" in
        -g0 | -O3) ;;
        *) args+=("$arg") ;;
    esac
done
exec "${args[@]}"
