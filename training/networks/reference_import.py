# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Import the authors' released ADDS weights (and Monodepth2's) into `ADDSModel`.

Both ship Monodepth2-style files: `encoder.pth`, `depth.pth`, `pose_encoder.pth`, `pose.pth`.
Every source key is mapped by prefix; the report lists what did not map and which model keys
stayed uninitialised, so a partial import never goes unnoticed. The classifier weights `fc.*`
of the embedded torchvision ResNets are unused by the method and are ignored (and reported).
"""

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch

from .adds import ADDSModel, ModelConfig

REFERENCE_FILES = ('encoder.pth', 'depth.pth', 'pose_encoder.pth', 'pose.pth')
METADATA_KEYS = ('height', 'width', 'use_stereo')
# (source file, source prefix, model prefix); the first matching prefix wins.
PREFIX_MAP = (
    ('encoder.pth', 'encoder.', 'invariant.encoder.'),
    ('encoder.pth', 'conv1.', 'invariant.night_conv1.'),
    ('encoder.pth', 'bn1.', 'invariant.night_bn1.'),
    ('encoder.pth', 'conv_shared.', 'invariant_code.'),
    ('encoder.pth', 'encoder_day.', 'private.day.'),
    ('encoder.pth', 'encoder_night.', 'private.night.'),
    ('encoder.pth', 'conv_diff_day.', 'private_code.day.'),
    ('encoder.pth', 'conv_diff_night.', 'private_code.night.'),
    ('encoder.pth', 'convt', 'recon_decoder.convt'),
    ('depth.pth', 'decoder.', 'depth_decoder.decoder.'),
    ('pose_encoder.pth', 'encoder.', 'pose_encoder.'),
    ('pose.pth', 'net.', 'pose_decoder.net.'),
)
IGNORED = re.compile(r'(^|\.)fc\.(weight|bias)$')
StateDicts = Mapping[str, Mapping[str, Any]]


@dataclasses.dataclass
class ImportReport:
    """What an import did: counts, ignored/unmapped source keys, uninitialised model keys."""

    files: List[str]
    mapped: int = 0
    ignored_source_keys: List[str] = dataclasses.field(default_factory=list)
    unmapped_source_keys: List[str] = dataclasses.field(default_factory=list)
    uninitialised_model_keys: List[str] = dataclasses.field(default_factory=list)
    metadata: Dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every source tensor mapped and every model tensor was set."""
        return not self.unmapped_source_keys and not self.uninitialised_model_keys

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly form (for checkpoint info and logs)."""
        return dataclasses.asdict(self)


def model_key(file: str, key: str) -> Optional[str]:
    """Return the `ADDSModel` state_dict key for a reference key (None when there is none)."""
    for source_file, source_prefix, target_prefix in PREFIX_MAP:
        if file == source_file and key.startswith(source_prefix):
            return target_prefix + key[len(source_prefix):]
    return None


def _resnet_depth(state: Mapping[str, Any], prefix: str) -> int:
    """Infer the ResNet depth (18/34/50) from the keys present under `prefix`."""
    if f'{prefix}layer1.0.conv3.weight' in state:
        return 50
    return 34 if f'{prefix}layer3.5.conv1.weight' in state else 18


def read_reference_files(folder: Union[str, os.PathLike]) -> Dict[str, Dict[str, Any]]:
    """Load whichever of the four reference files exist in `folder` (CPU, weights only)."""
    folder = Path(folder)
    if not (folder / 'encoder.pth').is_file():
        raise FileNotFoundError(f'{folder} has no encoder.pth (not a Monodepth2-style folder)')
    from adds_training.checkpoint import load_torch_file

    return {name: load_torch_file(folder / name, 'a Monodepth2 weight file')
            for name in REFERENCE_FILES if (folder / name).is_file()}


def config_for(state_dicts: StateDicts) -> ModelConfig:
    """Return the `ModelConfig` whose model can hold these reference weights."""
    encoder = state_dicts['encoder.pth']
    pose = state_dicts.get('pose_encoder.pth', {})
    return ModelConfig(num_layers=_resnet_depth(encoder, 'encoder.'),
                       stem='per_domain' if 'conv1.weight' in encoder else 'shared',
                       pose_num_layers=_resnet_depth(pose, 'encoder.') if pose else 18)


def import_reference_checkpoint(
        source: Union[str, os.PathLike, StateDicts]) -> Tuple[ADDSModel, ImportReport]:
    """Build an `ADDSModel` from a reference folder or {file name: state_dict}."""
    state_dicts = source if isinstance(source, Mapping) else read_reference_files(source)
    unknown = sorted(set(state_dicts) - set(REFERENCE_FILES))
    if unknown or 'encoder.pth' not in state_dicts:
        raise ValueError(f'expected state dicts named {REFERENCE_FILES} (encoder.pth required), '
                         f'got {sorted(state_dicts)}')
    model = ADDSModel(config_for(state_dicts))
    report = ImportReport(files=[f for f in REFERENCE_FILES if f in state_dicts])
    target = model.state_dict()
    loaded: Dict[str, torch.Tensor] = {}
    for file in report.files:
        for key, value in state_dicts[file].items():
            name = f'{file}:{key}'
            if file == 'encoder.pth' and key in METADATA_KEYS:
                report.metadata[key] = value
            elif IGNORED.search(key):
                report.ignored_source_keys.append(name)
            elif not torch.is_tensor(value) or model_key(file, key) not in target:
                report.unmapped_source_keys.append(name)
            elif value.shape != target[model_key(file, key)].shape:
                raise ValueError(f'{name} has shape {tuple(value.shape)}, the model expects '
                                 f'{tuple(target[model_key(file, key)].shape)}')
            else:
                loaded[model_key(file, key)] = value
    model.load_state_dict(loaded, strict=False)
    report.mapped = len(loaded)
    report.uninitialised_model_keys = [k for k in target if k not in loaded]
    return model, report
