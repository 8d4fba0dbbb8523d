#!/usr/bin/env bash
# Every test of the workspace, on a fresh machine too: installs what the tests need beyond cargo
# when it is missing (a redis-server, for the fleet's session store: scripts/ensure-redis.sh; a
# Python venv with tableauserverclient 0.42 from PyPI, for the TSC conformance suite:
# scripts/setup-tsc.sh), then runs `cargo test --workspace --all-features` with any extra
# arguments given.
# .ci/run calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-redis.sh
# The real tableauserverclient for tests/tests/tsc_conformance.rs (a venv, made once; a
# TSC_PYTHON already set is kept).
TSC_PYTHON="${TSC_PYTHON:-$(bash scripts/setup-tsc.sh)}"
export TSC_PYTHON
exec cargo test --workspace --all-features "$@"
