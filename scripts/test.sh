#!/usr/bin/env bash
# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, as CI runs it: set up .venv, then colcon build + colcon test on this
# package (unit, integration and linter tests) and fail on any failure or on zero tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
# The training tests' checkpoints peak at about 3 GB under the temp folder (pytest removes a
# passing test's tmp_path); a full disk otherwise shows up as ENOSPC deep inside some test.
tmp=${TMPDIR:-/tmp}
free_mb=$(df -Pm "$tmp" | awk 'NR == 2 {print $4}')
if [ "${free_mb:-0}" -lt 4096 ]; then
  echo "[test] warning: $tmp has ${free_mb} MB free; the suite needs about 3 GB there" >&2
fi
ws=build/colcon
rm -rf "$ws/build/adds_ros/pytest.xml" "$ws/build/adds_ros/test_results"
colcon --log-base "$ws/log" build --base-paths . \
  --build-base "$ws/build" --install-base "$ws/install"
colcon --log-base "$ws/log" test --base-paths . \
  --build-base "$ws/build" --install-base "$ws/install" \
  --event-handlers console_direct+ --pytest-args -ra "$@"
summary=$(colcon test-result --test-result-base "$ws/build" --verbose) && rc=0 || rc=$?
echo "$summary"
total=$(echo "$summary" | sed -n 's/^Summary: \([0-9]*\) tests.*/\1/p')
if [ "${total:-0}" -eq 0 ]; then
  echo "no tests ran: that is a failure, not a pass" >&2
  exit 1
fi
exit "$rc"
