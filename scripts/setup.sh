#!/usr/bin/env bash
# Install what is missing on Debian 12, then build threadstore.
#   bash scripts/setup.sh          Release build in build/
#   bash scripts/setup.sh --asan   also the ASan+UBSan build in build-asan/
# Shared by run.sh and test.sh; safe to run again (installs nothing, rebuilds incrementally).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Build, run and test dependencies. A minimal Debian 12 has none of them, and no apt lists.
# libc6-dev is only a Recommends of gcc, which --no-install-recommends drops: name it.
PKGS=(gcc libc6-dev make cmake pkg-config libuv1-dev libpq-dev node-llhttp libjansson-dev libssl-dev
      postgresql-15 postgresql-client-15 python3 python3-pytest python3-httpx openssl
      ca-certificates curl
      pgbouncer)

missing=()
for p in "${PKGS[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null ||
            { echo "setup: as root, run: apt-get update && apt-get install ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    # noninteractive: CI has no stdin, and postgresql/pgbouncer must not ask questions.
    # Lock::Timeout: wait for an apt run already in progress (e.g. unattended-upgrades).
    apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    "${apt[@]}" update
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
fi

# Configure (cheap when nothing changed) and build one tree with the 2 cores we have.
build() {
    local dir=$1; shift
    echo "setup: building $dir/"
    cmake -S . -B "$dir" "$@"
    cmake --build "$dir" -j2
}
build build -DCMAKE_BUILD_TYPE=Release
if [ "${1:-}" = --asan ]; then
    build build-asan -DCMAKE_BUILD_TYPE=Debug -DTHREADSTORE_SANITIZE=ON
fi
