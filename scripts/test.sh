#!/usr/bin/env bash
# Every test of the workspace, on a fresh machine too: installs what the tests need beyond cargo
# when it is missing (a redis-server, for the fleet's session store: scripts/ensure-redis.sh),
# then runs `cargo test --workspace --all-features` with any extra arguments given.
# .ci/run calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-redis.sh
exec cargo test --workspace --all-features "$@"
