#!/usr/bin/env bash
# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
# The main job: set up .venv, then run `adds demo` (synthetic world -> train -> eval -> ONNX ->
# depth node over a night sequence). Extra arguments go to `adds demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
exec adds demo "$@"
