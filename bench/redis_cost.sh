#!/usr/bin/env bash
# Redis CPU per published message, the figure docs/scaling.md builds on: one
# redis-server on a free port, SUBS subscribers (redis-cli, which reads as fast as
# Redis writes) on one channel, redis-benchmark publishing N messages of SIZE bytes
# pipelined; the server's user+system CPU (from /proc) divided by N.
#     bash bench/redis_cost.sh            (SUBS 0 2 100, SIZE 16 1024)
set -euo pipefail
N=${N:-200000}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >/dev/null &
server=$!
trap 'kill $server $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
sleep 0.5
cpu() { awk '{print $14+$15}' "/proc/$server/stat"; }
tck=$(getconf CLK_TCK)
printf '%-12s %6s %10s %14s\n' subscribers size messages "µs/PUBLISH"
for subs in 0 2 100; do
    pids=()
    for _ in $(seq "$subs"); do redis-cli -p "$port" subscribe fan >/dev/null & pids+=($!); done
    sleep 0.5
    for size in 16 1024; do
        payload=$(head -c "$size" /dev/zero | tr '\0' x)
        before=$(cpu)
        redis-benchmark -p "$port" -n "$N" -c 1 -P 64 -q PUBLISH fan "$payload" >/dev/null
        after=$(cpu)
        python3 -c "print(f'{$subs:<12} {$size:>6} {$N:>10} {($after-$before)/$tck/$N*1e6:>14.2f}')"
    done
    [ "${#pids[@]}" -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
    sleep 0.2
done
