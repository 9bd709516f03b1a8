#!/usr/bin/env bash
# Install Synapse into its own virtual environment for the Matrix integration tests.
#
# Idempotent: a no-op when the environment already imports synapse.
# The location defaults to .venv-synapse at the repository root; override with SYNAPSE_VENV
# (a relative path is taken from the repository root, as tests/matrix_homeserver.py does).
# The Python that creates the environment defaults to python3; override with PYTHON.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SYNAPSE_VENV:-.venv-synapse}"
case "$venv" in
    /*) ;;
    *) venv="$repo_root/$venv" ;;
esac
python="${PYTHON:-python3}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import synapse' 2>/dev/null; then
    echo "synapse already installed in $venv"
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "creating virtual environment $venv"
    "$python" -m venv "$venv"
fi

echo "installing matrix-synapse into $venv"
"$venv/bin/python" -m pip install --quiet matrix-synapse
"$venv/bin/python" -c 'import sys, synapse; print("synapse", synapse.__version__, "in", sys.argv[1])' "$venv"
