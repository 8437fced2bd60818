#!/usr/bin/env bash
# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
# Creates .venv (Python 3.10+) and installs adds_ros with every extra, once per setup.py change.
# Where no ROS 2 is sourced (no ROS_DISTRO), it also installs ROS 2 Kilted's rclpy and messages
# as wheels (extra `ros`), so the node and its tests run for real; a sourced ROS 2 is left alone
# (the venv then sees its packages: create it after sourcing ROS 2).
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "adds_ros needs Python 3.10 or newer (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  # with a sourced ROS 2, let the venv see its Python packages (rclpy, messages)
  "$PYTHON" -m venv ${ROS_DISTRO:+--system-site-packages} .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=.venv/.adds_ros-installed
extras=all
[ -n "${ROS_DISTRO:-}" ] || extras=all,ros
want="$(sha256sum setup.py | cut -d' ' -f1) $extras"

if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing adds_ros and its dependencies into .venv (first run: a few minutes)"
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".[$extras]"
  echo "$want" > "$stamp"
fi
