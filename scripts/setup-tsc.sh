#!/usr/bin/env bash
# Installs tableauserverclient from PyPI into a venv for the comparison benchmark and prints
# the python to pass as TSC_PYTHON.
set -euo pipefail
venv=${1:-"${TMPDIR:-/tmp}/tableau-auth-tsc-venv"}
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet "tableauserverclient==0.42" >&2
echo "$venv/bin/python"
