#!/usr/bin/env bash
# Installs tableauserverclient (TSC) 0.42 from PyPI into a venv and prints the venv's python, to
# pass as TSC_PYTHON: the TSC conformance suite (tests/tests/tsc_conformance.rs, which
# scripts/test.sh runs) and the comparison benchmarks use it.
#
#   TSC_PYTHON=$(bash scripts/setup-tsc.sh [VENV])   # VENV: ${TMPDIR:-/tmp}/tableau-auth-tsc-venv
#
# Idempotent: when the venv already has TSC 0.42.x it installs nothing and only prints the path.
# Only the path goes to stdout; everything else goes to stderr.
set -euo pipefail
venv=${1:-"${TMPDIR:-/tmp}/tableau-auth-tsc-venv"}
tsc_version=0.42
python="$venv/bin/python"

# The TSC version the venv's python imports, or nothing.
installed_tsc() {
  "$python" -c 'import importlib.metadata, tableauserverclient
print(importlib.metadata.version("tableauserverclient"))' 2>/dev/null || true
}

if [[ -x $python ]]; then
  case "$(installed_tsc)" in
    "$tsc_version" | "$tsc_version".*)
      echo "$python"
      exit 0
      ;;
  esac
fi

echo "setup-tsc: installing tableauserverclient==$tsc_version into $venv" >&2
python3 -m venv "$venv" >&2
"$python" -m pip install --quiet --disable-pip-version-check "tableauserverclient==$tsc_version" >&2
case "$(installed_tsc)" in
  "$tsc_version" | "$tsc_version".*) ;;
  *)
    echo "setup-tsc: tableauserverclient $tsc_version did not install into $venv" >&2
    exit 1
    ;;
esac
echo "$python"
