#!/usr/bin/env bash
# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
# Creates .venv (Python 3.10+) and installs adds_ros with every extra, once per setup.py change.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "adds_ros needs Python 3.10 or newer (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=.venv/.adds_ros-installed
want=$(sha256sum setup.py | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing adds_ros and its dependencies into .venv (first run: a few minutes)"
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e '.[all]'
  echo "$want" > "$stamp"
fi
