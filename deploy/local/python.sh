#!/usr/bin/env bash
# The Python interpreter `make install` builds the workspace environment (.venv) on; prints its
# path, or nothing to let uv choose.
#
#   1. $KATFLOW_PYTHON, when set (any Python 3.11);
#   2. else the distribution's /usr/bin/python3.11 (Debian's and Ubuntu's are built with
#      profile-guided optimization and link-time optimization);
#   3. else nothing: uv finds a Python 3.11 as usual (on PATH, pyenv, ...).
#
# Why it matters: a Python compiled from source without --enable-optimizations --with-lto (pyenv's
# default build) cost these services ~10 % more CPU per request than Debian's on the same machine
# (docs/benchmarks.md, fourteenth round). The images (python:3.11-slim) are optimized builds already.
set -euo pipefail

is_311() { [[ -x "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

if [[ -n "${KATFLOW_PYTHON:-}" ]]; then
  is_311 "$KATFLOW_PYTHON" || { echo "KATFLOW_PYTHON=$KATFLOW_PYTHON is not a Python 3.11" >&2; exit 1; }
  echo "$KATFLOW_PYTHON"
elif is_311 /usr/bin/python3.11; then
  echo /usr/bin/python3.11
fi
