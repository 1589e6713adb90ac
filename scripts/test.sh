#!/usr/bin/env bash
# Set up, build Release (build/) and ASan+UBSan (build-asan/), run the unit tests on both, then
# the integration suite and the Python client's tests against the sanitizer binary and the
# private PostgreSQL.
# Exits non-zero if any step fails; runs all of them first, to report everything at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh --asan

failed=()
step() {
    local name=$1; shift
    echo "test: == $name"
    "$@" || failed+=("$name")
}

step "unit tests, Release" ctest --test-dir build --output-on-failure
step "unit tests, sanitizers" ctest --test-dir build-asan --output-on-failure

# Stop PostgreSQL at the end only if this script started it (run.sh may be using it).
if ! bash scripts/pg.sh status >/dev/null; then
    trap 'bash scripts/pg.sh stop' EXIT
fi
bash scripts/pg.sh start

# Any UBSan report fails the run, with a stack trace. Debian's python3 has pytest (apt
# python3-pytest); a python3 found first in PATH (pyenv, venv) may not.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The instances the tests start have no load balancer to wait for: SIGTERM stops them without
# the drain delay (tests/integration/test_haproxy.py sets it where it is the point).
export THREADSTORE_DRAIN_DELAY=${THREADSTORE_DRAIN_DELAY:-0}
step "integration tests" env THREADSTORE_BIN="$PWD/build-asan/threadstore" \
    DATABASE_URL="$(bash scripts/pg.sh url)" /usr/bin/python3 -m pytest -q tests/integration
step "python client" env THREADSTORE_BIN="$PWD/build-asan/threadstore" \
    DATABASE_URL="$(bash scripts/pg.sh url)" /usr/bin/python3 -m pytest -q clients/python/tests

# The client's tests again with pydantic 2, where some python3 has it (Debian 12's has none:
# above, the stand-ins run on their pydantic look-alike): then the stand-in models are real
# pydantic 2 models, or the real chatkit if that python has it. Such a python (pyenv, a venv)
# often lacks pytest and httpx: Debian's (pure Python) are lent to it through PYTHONPATH.
pydantic2_python() {
    local py
    for py in "${PYDANTIC2_PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10; do
        [ -n "$py" ] && command -v "$py" >/dev/null || continue
        "$py" -c 'import sys, pydantic; sys.exit(sys.version_info < (3, 10) or
                  int(pydantic.VERSION.split(".")[0]) < 2)' 2>/dev/null && { echo "$py"; return; }
    done
}
client_pydantic2() {
    local py extra=()
    py=$(pydantic2_python)
    if [ -z "$py" ]; then
        echo "test: python client with pydantic 2: SKIPPED: no python3 (3.10+) with pydantic 2" \
             "on PATH (set PYDANTIC2_PYTHON to one)"
        return 0
    fi
    "$py" -c 'import pytest, httpx' 2>/dev/null || extra=(PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}/usr/lib/python3/dist-packages")
    echo "test: python client with $("$py" -c 'import sys, pydantic; print(sys.executable,
        "pydantic", pydantic.VERSION)')"
    env "${extra[@]}" THREADSTORE_BIN="$PWD/build-asan/threadstore" \
        DATABASE_URL="$(bash scripts/pg.sh url)" "$py" -m pytest -q clients/python/tests
}
step "python client, pydantic 2" client_pydantic2

# The FastAPI + ChatKit example, end to end, where the real chatkit, fastapi and uvicorn are
# importable (with the pydantic-2 python above, else Debian's); otherwise pytest reports it
# SKIPPED with the missing package (-rs).
example_app() {
    local py extra=()
    py=$(pydantic2_python)
    py=${py:-/usr/bin/python3}
    "$py" -c 'import pytest' 2>/dev/null || extra=(PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}/usr/lib/python3/dist-packages")
    env "${extra[@]}" THREADSTORE_BIN="$PWD/build-asan/threadstore" \
        DATABASE_URL="$(bash scripts/pg.sh url)" "$py" -m pytest -q -rs -p no:cacheprovider \
        examples/fastapi-chatkit
}
step "example: fastapi-chatkit" example_app

# The benchmark harness must keep working: a few seconds on tiny data, no timing asserted.
step "bench smoke" env THREADSTORE_BIN="$PWD/build-asan/threadstore" \
    DATABASE_URL="$(bash scripts/pg.sh url)" bash bench/smoke.sh

# The fuzz target must keep building and running: a short run from the seed corpus (the
# long runs are done by hand: see tests/fuzz/README.md).
fuzz_smoke() {
    CC=clang bash scripts/build.sh build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTHREADSTORE_FUZZ=ON >/dev/null
    local corpus rc=0
    corpus=$(mktemp -d)
    # The whole connection (conn + dispatch + handlers, no database), then the parser alone.
    ./build-fuzz/fuzz_conn -max_total_time="${FUZZ_SECONDS:-30}" -max_len=4096 \
        -print_final_stats=1 "$corpus" tests/fuzz/corpus_conn 2>&1 | tail -n 6
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    rm -rf "$corpus" && corpus=$(mktemp -d)
    ./build-fuzz/fuzz_http -max_total_time="${FUZZ_HTTP_SECONDS:-10}" -max_len=4096 \
        -print_final_stats=1 "$corpus" tests/fuzz/corpus 2>&1 | tail -n 6
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    rm -rf "$corpus"
    return "$rc"
}
step "fuzz smoke" fuzz_smoke

if [ ${#failed[@]} -gt 0 ]; then
    printf 'test: FAILED: %s\n' "${failed[@]}" >&2
    echo "test: failed after $SECONDS s" >&2
    exit 1
fi
echo "test: all passed in $SECONDS s"
