# Debian 12 packages by purpose, and the installer for them. Sourced by
# scripts/setup.sh (development, CI) and docker/Dockerfile (images), so both
# install from the same lists.

# To build. libc6-dev is only a Recommends of gcc, which --no-install-recommends drops.
BUILD_PKGS=(gcc libc6-dev make cmake pkg-config libuv1-dev libpq-dev node-llhttp libjansson-dev
            libssl-dev libcurl4-openssl-dev)
# To run the binary (what its shared libraries come from), plus CA certificates for TLS.
RUNTIME_PKGS=(libuv1 libpq5 libjansson4 libssl3 libcurl4 ca-certificates)
# To develop and test: a PostgreSQL server, PgBouncer, HAProxy (the load-balancer test runs
# docker/haproxy.cfg), Python for the tests, clang's libFuzzer.
DEV_PKGS=(postgresql-15 postgresql-client-15 python3 python3-pytest python3-httpx
          python3-cryptography python3-yaml openssl ca-certificates curl strace pgbouncer haproxy clang
          libclang-rt-14-dev)
# Node and npm for the real Better Auth in tests/betterauth: Debian's, only when the commands
# are missing. A Node that is already there is kept: nodesource's nodejs ships its own npm, and
# Debian's npm would pull Debian's nodejs over it. Debian 12's nodejs is 18; Better Auth 1.7
# runs on it with --experimental-global-webcrypto (tests/integration/test_better_auth.py).
if ! command -v node >/dev/null 2>&1; then
    DEV_PKGS+=(nodejs)
    command -v npm >/dev/null 2>&1 || DEV_PKGS+=(npm)
elif ! command -v npm >/dev/null 2>&1; then
    echo "packages: node is installed but npm is not; not installing Debian's npm over it" \
         "(the Better Auth test needs npm)" >&2
fi

# install_missing PKG...: apt-get installs those not installed yet (nothing to do: no apt call).
install_missing() {
    local missing=() p
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    echo "packages: installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || {
            echo "packages: as root, run: apt-get update && apt-get install ${missing[*]}" >&2
            return 1
        }
        sudo=(sudo)
    fi
    # noninteractive: CI has no stdin, and postgresql/pgbouncer must not ask questions.
    # Lock::Timeout: wait for an apt run already in progress (e.g. unattended-upgrades).
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    "${apt[@]}" update
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
}
