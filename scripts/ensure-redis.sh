#!/usr/bin/env bash
# Makes sure `redis-server` is installed: the tests of tableau-auth-redis start a real one on a
# free loopback port (tests/src/redis_server.rs). Exits 0 when it is on PATH; otherwise installs
# Debian's `redis-server` package (with sudo when not root) and fails clearly if it cannot.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    echo "ensure-redis: $(command -v redis-server) is installed ($(redis-server --version | head -n 1))"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "ensure-redis: redis-server is not installed, and installing it needs root (no sudo found)." >&2
    echo "ensure-redis: install the redis-server package, then run the tests again." >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-redis: redis-server is not installed and apt-get is not available." >&2
    echo "ensure-redis: install Redis (6.2 or later) with this system's package manager." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-redis: installing redis-server with apt-get"
if ! ${SUDO[@]+"${SUDO[@]}"} apt-get install -y --no-install-recommends redis-server; then
    echo "ensure-redis: the install failed; updating the package lists and trying again"
    ${SUDO[@]+"${SUDO[@]}"} apt-get update
    ${SUDO[@]+"${SUDO[@]}"} apt-get install -y --no-install-recommends redis-server
fi

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
    echo "ensure-redis: apt-get finished but redis-server is still not found." >&2
    exit 1
fi
echo "ensure-redis: installed $(redis-server --version 2>/dev/null | head -n 1 || echo /usr/bin/redis-server)"
