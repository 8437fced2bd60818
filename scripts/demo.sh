#!/usr/bin/env bash
# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
# The main job: set up .venv, then run `adds demo` (synthetic world -> train -> eval -> ONNX ->
# depth node over a night sequence). Extra arguments go to `adds demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
if adds --help | grep -q ' demo '; then
  exec adds demo "$@"
fi
echo "adds demo is not built yet; it will render the synthetic world, train, evaluate, export"
echo "ONNX and run the depth node over a night sequence. Available now:"
adds --help
