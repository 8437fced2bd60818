# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Fine-tuning from saved weights: `adds train init_from=PATH init_parts=[...]`.

`PATH` is a project checkpoint (`best.pt` / `last.pt`, any mode) or a Monodepth2-style folder
of the ADDS authors' released weights (`reference_import`). The parts asked for are copied
tensor by tensor into a freshly built `ADDSModel`; everything else keeps the seed's random
initialisation. Nothing is loaded silently or partly: a part the source lacks, one tensor of it
missing, a shape that differs or a tensor this model has no place for is a one-line error
naming the tensor, and the report says exactly which tensors were loaded and which stayed
fresh (the trainer logs it and stores it in the run's meta with the source's hash).

A Monodepth2 run never trains the separation branch (private encoders, code projections,
reconstruction decoder): from such a source those tensors stay fresh, and the report says why.
"""

import dataclasses
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from adds_ros.errors import UserValueError

# init_parts name -> the ADDSModel state-dict prefixes it covers.
PARTS: Dict[str, Tuple[str, ...]] = {
    'encoders': ('invariant.', 'private.', 'private_code.', 'invariant_code.'),
    'decoders': ('depth_decoder.', 'recon_decoder.'),
    'pose': ('pose_encoder.', 'pose_decoder.'),
}
# Trained only by mode 'adds' (a Monodepth2 source leaves them at their random start).
SEPARATION = ('private.', 'private_code.', 'invariant_code.', 'recon_decoder.')


def part_of(key: str) -> Optional[str]:
    """Return the init part of a model state-dict key (None if it belongs to none)."""
    return next((part for part, prefixes in PARTS.items() if key.startswith(prefixes)), None)


def check_parts(parts: Sequence[str]) -> List[str]:
    """Return `parts` if every name is a known part and none repeats, else raise ValueError."""
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts or len(set(parts)) != len(parts):
        raise ValueError(f'init_parts must be a non-empty list of distinct names from '
                         f'{list(PARTS)}, got {list(parts)}')
    return list(parts)


@dataclasses.dataclass
class InitReport:
    """What `init_model` did: source, its hash and mode, tensors loaded and left fresh."""

    source: str
    hash: str
    format: str
    source_mode: Optional[str]
    parts: List[str]
    loaded: List[str]
    fresh: List[str]
    fresh_reason: Dict[str, str]

    def counts(self, keys: Sequence[str]) -> Dict[str, int]:
        """Count tensors per top-level module (`invariant`, `pose_decoder`, ...)."""
        out: Dict[str, int] = {}
        for key in keys:
            out[key.split('.')[0]] = out.get(key.split('.')[0], 0) + 1
        return out

    def meta(self) -> dict:
        """Return the compact form stored in checkpoints' meta['init_from']."""
        return {'source': self.source, 'hash': self.hash, 'format': self.format,
                'source_mode': self.source_mode, 'parts': self.parts,
                'loaded': self.counts(self.loaded), 'fresh': self.counts(self.fresh),
                'fresh_reason': self.fresh_reason}

    def lines(self) -> List[str]:
        """Summarise for the log: one line loaded, one line fresh (with reasons)."""
        loaded = ', '.join(f'{m} ({n})' for m, n in self.counts(self.loaded).items())
        fresh = ', '.join(f'{m} ({n})' for m, n in self.counts(self.fresh).items()) or 'none'
        reasons = '; '.join(f'{k}: {v}' for k, v in self.fresh_reason.items())
        return [f'init_from {self.source} ({self.format}, {self.hash[:19]}): loaded '
                f'{len(self.loaded)} tensors of {", ".join(self.parts)}: {loaded}',
                f'init_from: left fresh {len(self.fresh)} tensors: {fresh}'
                + (f' ({reasons})' if reasons else '')]


def read_source(path: Union[str, Path]) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Model-keyed tensors of a project checkpoint or a reference folder, and their origin."""
    from adds_training.checkpoint import file_hash, load_checkpoint

    from .reference_import import import_reference_checkpoint, REFERENCE_FILES

    path = Path(path)
    if path.is_dir():
        if not (path / 'encoder.pth').is_file():
            raise UserValueError(f'init_from {path}: a folder must hold the authors\' layout '
                                 f'({", ".join(REFERENCE_FILES)}); encoder.pth is missing')
        try:
            model, report = import_reference_checkpoint(path)
        except ValueError as err:
            raise UserValueError(f'init_from {path}: {err}') from None
        absent = set(report.uninitialised_model_keys)
        state = {k: v for k, v in model.state_dict().items() if k not in absent}
        files = [path / f for f in report.files]
        return state, {'format': 'reference-folder', 'hash': file_hash(files), 'mode': 'adds'
                       if any(k.startswith('private.') for k in state) else 'monodepth2'}
    if not path.is_file():
        raise UserValueError(f'init_from {path}: no such checkpoint file or folder')
    checkpoint = load_checkpoint(path)
    return dict(checkpoint['model']), {'format': checkpoint['format'],
                                       'hash': file_hash([path]),
                                       'mode': checkpoint['config'].get('mode')}


def _check(path: Path, source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor],
           wanted: Sequence[str], parts: Sequence[str]) -> None:
    """Refuse a source that cannot fill `wanted` exactly (first problem, naming the tensor)."""
    for part in parts:
        keys = [k for k in wanted if part_of(k) == part]
        if keys and not any(k in source for k in keys):
            raise UserValueError(f'init_from {path}: has no {part} weights (no {keys[0]}); '
                                 f'leave {part} out of init_parts')
    missing = [k for k in wanted if k not in source]
    if missing:
        raise UserValueError(f'init_from {path}: {missing[0]} is missing ({len(missing)} '
                             f'tensors of init_parts absent): an incomplete checkpoint')
    extra = [k for k in source if part_of(k) in parts and k not in target]
    if extra:
        raise UserValueError(f'init_from {path}: {extra[0]} has no place in this model '
                             f'(another model.stem / model.num_layers?)')
    for key in wanted:
        if source[key].shape != target[key].shape:
            raise UserValueError(f'init_from {path}: {key} has shape '
                                 f'{tuple(source[key].shape)}, this model expects '
                                 f'{tuple(target[key].shape)} (model.num_layers / '
                                 'pose_num_layers must match the source)')


def init_model(model: nn.Module, path: Union[str, Path], parts: Sequence[str],
               mode: str) -> InitReport:
    """Copy `parts` of the weights at `path` into `model` (in place); return the report.

    `mode` is the run's: the separation branch is only wanted when it is 'adds' and the source
    trained it.
    """
    path = Path(path)
    parts = check_parts(parts)
    source, origin = read_source(path)
    target = model.state_dict()
    reasons: Dict[str, str] = {}
    separation_untrained = origin['mode'] == 'monodepth2' or not any(
        k.startswith('private.') for k in source)
    wanted = []
    for key in target:
        part = part_of(key)
        if part not in parts:
            continue
        if key.startswith(SEPARATION) and (mode != 'adds' or separation_untrained):
            reasons['separation branch'] = (
                f'the source (mode {origin["mode"]}) never trained it' if mode == 'adds'
                else f'unused in mode {mode}')
            continue
        wanted.append(key)
    _check(path, source, target, wanted, parts)
    with torch.no_grad():
        for key in wanted:
            target[key].copy_(source[key])
    fresh = [k for k in target if k not in set(wanted)]
    if any(part_of(k) not in parts for k in fresh):
        reasons['not in init_parts'] = ', '.join(p for p in PARTS if p not in parts)
    return InitReport(source=str(path), hash=origin['hash'], format=origin['format'],
                      source_mode=origin['mode'], parts=parts, loaded=wanted, fresh=fresh,
                      fresh_reason=reasons)
