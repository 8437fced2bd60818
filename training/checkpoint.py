# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Project checkpoints: atomic writes and everything needed to resume a run exactly.

Format (docs/design.md): `{'format': 'adds_ros/1', 'config', 'model', 'meta'}` plus, for
resuming, the optimiser, scheduler and grad-scaler states, the step/epoch counters and every
random generator's state. A checkpoint is written to a hidden temporary file and renamed, so a
run killed while saving leaves the previous checkpoint intact.
"""

import random
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np
import torch

from adds_ros.atomic import atomic_path

FORMAT = 'adds_ros/1'
PathLike = Union[str, Path]


def save_checkpoint(path: PathLike, state: Dict[str, Any]) -> None:
    """Write `state` (which must carry the project format fields) atomically."""
    missing = [k for k in ('config', 'model', 'meta') if k not in state]
    if missing:
        raise ValueError(f'checkpoint state lacks {missing}')
    state = {'format': FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: PathLike, map_location: Any = 'cpu') -> Dict[str, Any]:
    """Read a project checkpoint; anything else raises ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f'checkpoint {path} does not exist')
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get('format') != FORMAT:
        found = state.get('format') if isinstance(state, dict) else type(state).__name__
        raise ValueError(f'{path} is not an {FORMAT} checkpoint (format {found!r})')
    return state


def update_meta(path: PathLike, **values: Any) -> Dict[str, Any]:
    """Set `meta[key] = value` in a checkpoint in place (atomically); return the new meta."""
    state = load_checkpoint(path)
    state['meta'].update(values)
    save_checkpoint(path, state)
    return state['meta']


def capture_rng_state() -> Dict[str, Any]:
    """Return the state of every random generator a training step may draw from.

    Only tensors and plain Python values, so checkpoints load with `weights_only=True`.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {'python': random.getstate(),
             'numpy': {'kind': kind, 'keys': torch.from_numpy(keys.astype(np.int64)),
                       'pos': int(pos), 'has_gauss': int(has_gauss), 'cached': float(cached)},
             'torch': torch.get_rng_state()}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Undo `capture_rng_state` (CUDA states only where a GPU is present)."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    numpy = state['numpy']
    np.random.set_state((numpy['kind'], numpy['keys'].numpy().astype(np.uint32), numpy['pos'],
                         numpy['has_gauss'], numpy['cached']))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])
