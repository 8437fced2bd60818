# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A procedural street world rendered by day and by night with exact depth and poses.

`world` builds the scene and the camera path, `texture` the band-limited procedural patterns,
`render` casts rays and shades them, `write` stores whole datasets in the processed layout and
`cli` is `adds synth`. Import the sub-modules directly; this file stays light on purpose.
"""
