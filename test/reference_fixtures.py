# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Random weights in the layout of the ADDS authors' released checkpoints (for import/export)."""

import json
from pathlib import Path
from typing import Dict

import torch

# A copy of ../shared/data/reference_checkpoint_layout.json: the tests must not need ../shared.
LAYOUT_PATH = Path(__file__).resolve().parent / 'data' / 'reference_checkpoint_layout.json'


def load_layout() -> dict:
    """File name -> {state-dict key: shape} of the released checkpoints."""
    return json.loads(LAYOUT_PATH.read_text())


def random_state_dicts(layout: dict, seed: int = 0, height: int = 256,
                       width: int = 512) -> Dict[str, dict]:
    """Tensors of the layout's shapes; BN variances positive so eval outputs stay finite."""
    generator = torch.Generator().manual_seed(seed)
    state_dicts = {}
    for file, shapes in layout.items():
        if '#' in file:  # comments in the layout file
            continue
        state = {}
        for key, shape in shapes.items():
            if key.endswith('num_batches_tracked'):
                state[key] = torch.tensor(100)
            elif key.endswith('running_var'):
                state[key] = torch.rand(shape, generator=generator) + 0.5
            else:
                state[key] = torch.randn(shape, generator=generator) * 0.05
        state_dicts[file] = state
    state_dicts['encoder.pth'].update(height=height, width=width, use_stereo=False)
    return state_dicts
