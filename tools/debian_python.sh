#!/usr/bin/env bash
# The whole test suite (both implementations) against the wheel installed on CPython
# versions this Debian does not ship: Debian unstable's python3.14 and python3.15, in a
# debootstrap chroot (as root, on Linux).
#
#   bash tools/debian_python.sh                  # 3.14 and 3.15
#   bash tools/debian_python.sh 3.15             # one version
#
# Environment: FASTWS_CHROOT (default ${TMPDIR:-/tmp}/fastws-unstable; reused when it already
# has the interpreters, made otherwise), FASTWS_CHROOT_KEEP=1 keeps it afterwards.
# Commit first: the wheel is built from a clean clone of HEAD, like tools/wheel_check.sh.
#
# Why a chroot: Debian 12 cannot install unstable's interpreters as they are, and a
# minimal unstable chroot with them (about 150 s, 0.9 GB) is cheaper than building each
# CPython from source. The chroot shares the host's network namespace: the suite's
# servers stay on loopback.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
chroot_dir="${FASTWS_CHROOT:-${TMPDIR:-/tmp}/fastws-unstable}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.14 3.15)
mirror="http://deb.debian.org/debian"
start=$SECONDS
step() { echo "=== [$((SECONDS - start))s] $*"; }

packages=(gcc libc6-dev libffi-dev ca-certificates)
for version in "${versions[@]}"; do packages+=("python$version-dev" "python$version-venv"); done

# Mounts for the suite (multiprocessing needs /dev/shm, subprocesses /proc); undone on exit.
mounted=()
cleanup() {
    local still=0
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${mounted[$i]}" 2>/dev/null || true
        if mountpoint -q "${mounted[$i]}"; then still=1; fi
    done
    # Never delete through a bind mount of the host's /dev or /proc: only when all are gone,
    # and without crossing into another file system.
    if [ -z "${FASTWS_CHROOT_KEEP:-}" ]; then
        if [ "$still" = 0 ]; then rm -rf --one-file-system "$chroot_dir"; else echo "!!! $chroot_dir still has mounts: left in place" >&2; fi
    fi
}
trap cleanup EXIT
# The host's CA bundle: this machine may reach the package registries through a TLS proxy
# that it trusts and that a fresh chroot's bundle does not know.
host_ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
in_chroot() {
    chroot "$chroot_dir" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin CI="${CI:-}" LANG=C.UTF-8 \
        PIP_CERT=/etc/host-ca.crt SSL_CERT_FILE=/etc/host-ca.crt PIP_DEFAULT_TIMEOUT=180 "$@"
}

if ! [ -x "$chroot_dir/usr/bin/python${versions[-1]}" ]; then
    step "debootstrap: Debian unstable (minbase) into $chroot_dir"
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    rm -rf "$chroot_dir"
    debootstrap --variant=minbase unstable "$chroot_dir" "$mirror" > "${chroot_dir}.log" 2>&1 || { tail -n 20 "${chroot_dir}.log"; exit 1; }
fi
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
cp "$host_ca" "$chroot_dir/etc/host-ca.crt"
for dir in proc dev dev/pts dev/shm; do
    mkdir -p "$chroot_dir/$dir"
    mount --bind "/$dir" "$chroot_dir/$dir" && mounted+=("$chroot_dir/$dir")
done

step "apt-get install ${packages[*]}"
# Check-Valid-Until off: a mirror may serve a snapshot whose Release file has expired.
in_chroot sh -c "apt-get -qq -o Acquire::Check-Valid-Until=false update && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages[*]} >/dev/null"

step "clean clones of HEAD ($(git -C "$root" rev-parse --short HEAD)), one per version (the builds run at once)"
rm -rf "$chroot_dir/build" && mkdir -p "$chroot_dir/build"
for version in "${versions[@]}"; do git clone --quiet --no-hardlinks "$root" "$chroot_dir/build/src$version"; done

# One version: the wheel, a virtualenv with it and the test extra, the suite from outside
# the source tree. The versions run at once (each suite is one process), into their logs.
one_version() {
    local version="$1" venv="/build/venv$1" src="/build/src$1"
    echo "=== CPython $version: $(in_chroot "python$version" -VV | head -n 1)"
    in_chroot sh -ec "
        python$version -m venv $venv
        $venv/bin/pip install -q --disable-pip-version-check build
        cd $src && FASTWS_BUILD_EXTENSION=yes $venv/bin/python -m build -q --wheel --outdir /build/dist$version . > /build/build$version.log 2>&1 || { tail -n 30 /build/build$version.log; exit 1; }
        $venv/bin/pip install -q --disable-pip-version-check \"\$(ls /build/dist$version/*.whl)[test]\"
    "
    echo "=== CPython $version: wheel installed after $((SECONDS - start)) s; the whole suite against it (cython and python)"
    mkdir -p "$chroot_dir/build/run$version"
    in_chroot sh -c "cd /build/run$version && FASTWS_NO_BROWSER_TESTS=1 FASTWS_NO_REDIS_TESTS=1 PYTHONPATH=$src/tools $venv/bin/python -m pytest $src/tests -p nox_installed_check -p no:cacheprovider -q" \
        | grep -vE '^[.sxFE]+ *(\[ *[0-9]+%\])?$'
}

step "CPython ${versions[*]}: build, install and test the wheel (in parallel; each version's output follows when it ends)"
pids=()
for version in "${versions[@]}"; do
    one_version "$version" > "$chroot_dir/build/log$version" 2>&1 &
    pids+=($!)
done
status=0
for index in "${!versions[@]}"; do
    version="${versions[$index]}"
    if wait "${pids[$index]}"; then result=passed; else result=FAILED; status=1; fi
    cat "$chroot_dir/build/log$version"
    step "CPython $version: $result"
done
exit $status
