# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Project checkpoints: the one module that owns the format (write, read, validate, resume).

Format (docs/design.md): `{'format': 'adds_ros/1', 'config': {..., 'model': ModelConfig
fields}, 'model': ADDSModel.state_dict(), 'meta': {'height', 'width', ...}}` plus, for resuming,
the optimiser, scheduler and grad-scaler states, the step/epoch counters and every random
generator's state. Every `.pt` the project writes goes through `save_torch_atomic` (a hidden
temporary file, then a rename), so a run killed while saving leaves the previous file intact.
Building networks from the weights is `adds_training.networks.loading`'s job: this module
imports no network.

Every `.pt` a user names is read by `load_torch_file`: `weights_only=True` (a pickle that would
build other objects, and so could run code, is refused) and one error that names the file and
what is wrong with it.
"""

import dataclasses
import hashlib
import pickle
import random
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Union

import numpy as np
import torch

from adds_ros.atomic import atomic_path
from adds_ros.errors import UserValueError

FORMAT = 'adds_ros/1'
PathLike = Union[str, Path]


def save_torch_atomic(path: PathLike, obj: Any) -> None:
    """`torch.save` to a temporary file beside `path`, renamed over it once complete."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def checkpoint_dict(model: torch.nn.Module, meta: Mapping[str, Any],
                    config: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Build a checkpoint of an ADDSModel; `config` (e.g. training settings) gets the model fields.

    `model` is anything with a dataclass `config` and a `state_dict` (so this module need not
    import the networks); `meta` should hold at least the training 'height' and 'width'.
    """
    full_config = dict(config or {})
    full_config['model'] = dataclasses.asdict(model.config)
    return {'format': FORMAT, 'config': full_config, 'model': model.state_dict(),
            'meta': dict(meta)}


def save_checkpoint(path: PathLike, state: Dict[str, Any]) -> None:
    """Write `state` (which must carry the project format fields) atomically."""
    missing = [k for k in ('config', 'model', 'meta') if k not in state]
    if missing:
        raise ValueError(f'checkpoint state lacks {missing}')
    save_torch_atomic(path, {'format': FORMAT, **state})


def file_hash(paths: Iterable[Path]) -> str:
    """'sha256:<hex>' over the bytes of `paths`, in order (identifies the weights)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                digest.update(chunk)
    return 'sha256:' + digest.hexdigest()


def _load_failure(err: Exception) -> str:
    """Say in a few words why torch.load refused a file (its own messages run to pages)."""
    if isinstance(err, pickle.UnpicklingError):
        return 'it holds Python objects other than tensors and plain values (refused: ' \
               'unpickling them could run code)'
    if isinstance(err, EOFError):
        return 'the file ends early (truncated)'
    if isinstance(err, RuntimeError) and 'zip archive' in str(err):
        return 'not a PyTorch file, or truncated/corrupt (its zip archive is unreadable)'
    return f'not a PyTorch file ({type(err).__name__}: {str(err).splitlines()[0][:200]})'


def load_torch_file(path: PathLike, kind: str, map_location: Any = 'cpu') -> Any:
    """`torch.load(weights_only=True)` of a user's file; UserValueError names file and problem.

    `kind` names what the file should be, with its article ('an adds_ros checkpoint').
    """
    path = Path(path)
    if not path.is_file():
        raise UserValueError(f'{path}: no such file (expected {kind})')
    if path.stat().st_size == 0:
        raise UserValueError(f'{path}: not {kind}: the file is empty')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - whatever the unpickler meets, the file is bad
        raise UserValueError(f'{path}: not {kind}: {_load_failure(err)}') from None


def load_checkpoint(path: PathLike, map_location: Any = 'cpu') -> Dict[str, Any]:
    """Read a project checkpoint; anything else raises UserValueError naming the file."""
    state = load_torch_file(path, 'an adds_ros checkpoint', map_location)
    if not isinstance(state, dict) or state.get('format') != FORMAT:
        found = f'format {state.get("format")!r}' if isinstance(state, dict) else \
            f'a bare {type(state).__name__}'
        raise UserValueError(f'{path}: not an adds_ros checkpoint: it holds {found}, expected '
                             f'a dict with format {FORMAT!r}')
    missing = [k for k in ('config', 'model', 'meta') if not isinstance(state.get(k), dict)]
    if missing:
        raise UserValueError(f'{path}: not a complete adds_ros checkpoint: no {missing}')
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
