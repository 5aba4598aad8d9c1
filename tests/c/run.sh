#!/usr/bin/env bash
# Builds and runs the C kernel tests: natively with gcc (and clang if present), under
# ASan/UBSan where the toolchain supports them, then cross-compiled for aarch64 and run
# under qemu-user when aarch64-linux-gnu-gcc and qemu-aarch64 are installed
# (Debian: apt-get install -y gcc-aarch64-linux-gnu qemu-user).
#
# Exit status is non-zero if any build or test fails. A missing cross toolchain is
# reported loudly but only fails the run when FASTWS_REQUIRE_NEON=1.
# FASTWS_CROSS_CC and FASTWS_QEMU override the cross compiler and emulator names.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
kernels="$root/src/fastws/_kernels"
out="$(mktemp -d "${TMPDIR:-/tmp}/fastws-ctest.XXXXXX")"
trap 'rm -rf "$out"' EXIT

warn=(-std=c99 -Wall -Wextra -Wpedantic -Werror)
srcs=("$kernels"/*.c "$here/test_kernels.c")
status=0

# run NAME CMD...: runs a step, records failure.
run() {
    local name="$1"; shift
    echo "=== $name"
    if ! "$@"; then
        echo "!!! $name FAILED"
        status=1
        return 1
    fi
}

# Can $1 link a program with the flags after it?
supports() {
    local cc="$1"; shift
    echo 'int main(void){return 0;}' > "$out/probe.c"
    "$cc" "$@" "$out/probe.c" -o "$out/probe" >/dev/null 2>&1 && "$out/probe" >/dev/null 2>&1
}

native() {
    local cc="$1" tag="$1"
    if ! command -v "$cc" >/dev/null 2>&1; then
        echo "--- $cc not found, skipping its native build"
        return
    fi
    # optimised builds: setup.py uses -O3 (-fPIC); -O2 is the common default elsewhere
    run "$tag -O3 build" "$cc" "${warn[@]}" -O3 -fPIC "${srcs[@]}" -o "$out/test-$tag-O3" &&
        run "$tag -O3 test" "$out/test-$tag-O3"
    run "$tag -O2 build" "$cc" "${warn[@]}" -O2 "${srcs[@]}" -o "$out/test-$tag" &&
        run "$tag -O2 test" "$out/test-$tag" --quick
    # -O0: intrinsics and target attributes must also work unoptimised
    echo "=== $tag -O0 compile of each kernel file"
    local f
    for f in "$kernels"/*.c; do
        "$cc" "${warn[@]}" -O0 -c "$f" -o "$out/o0.o" || { echo "!!! $tag -O0 $f"; status=1; }
    done
    local san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    if supports "$cc" "${san[@]}"; then
        run "$tag -O1 ASan+UBSan build" "$cc" "${warn[@]}" -O1 -g "${san[@]}" "${srcs[@]}" \
            -o "$out/test-$tag-san" &&
            run "$tag ASan+UBSan test" "$out/test-$tag-san"
    else
        echo "--- $cc: sanitizers unavailable, skipped"
    fi
}

native gcc
native clang

# Threads under ThreadSanitizer (test_threads.c): the SIMD switch racing the kernels, and the
# per-object guard the extension takes (atomics.h). The kernels before the atomic switch fail it.
if command -v gcc >/dev/null 2>&1 && supports gcc -fsanitize=thread -pthread; then
    run "gcc ThreadSanitizer build" gcc "${warn[@]}" -D_POSIX_C_SOURCE=200809L -O1 -g -fsanitize=thread -pthread \
        "$kernels"/*.c "$here/test_threads.c" -o "$out/test-tsan" &&
        run "ThreadSanitizer test" env TSAN_OPTIONS=halt_on_error=1 "$out/test-tsan"
else
    echo "--- gcc: ThreadSanitizer unavailable, skipped"
fi

# What architectures other than x86-64/aarch64 get: scalar kernels only.
if command -v gcc >/dev/null 2>&1; then
    run "gcc scalar-only build (-DFASTWS_DISABLE_SIMD)" gcc "${warn[@]}" -O2 -DFASTWS_DISABLE_SIMD \
        "${srcs[@]}" -o "$out/test-scalar-only" &&
        run "scalar-only test" "$out/test-scalar-only" --quick
fi

echo "=== aarch64 (NEON) under qemu-user"
cross="${FASTWS_CROSS_CC:-aarch64-linux-gnu-gcc}"
qemu="${FASTWS_QEMU:-qemu-aarch64}"
if command -v "$cross" >/dev/null 2>&1 && command -v "$qemu" >/dev/null 2>&1; then
    # -static: qemu-user then needs no aarch64 sysroot (-L) at run time
    run "aarch64 build" "$cross" "${warn[@]}" -O2 -static "${srcs[@]}" -o "$out/test-aarch64" &&
        run "aarch64 test (qemu)" "$qemu" "$out/test-aarch64"
else
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! NEON NOT TESTED: need $cross and $qemu"
    echo "!!! (Debian: apt-get install -y gcc-aarch64-linux-gnu qemu-user)"
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    if [ "${FASTWS_REQUIRE_NEON:-0}" = 1 ]; then
        echo "FASTWS_REQUIRE_NEON=1: failing"
        status=1
    fi
fi

if [ "$status" = 0 ]; then echo "ALL C KERNEL TESTS PASSED"; else echo "C KERNEL TESTS FAILED"; fi
exit "$status"
