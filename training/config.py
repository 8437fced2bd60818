# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Training configuration: one dataclass, loaded from YAML, overridden by `key=value` words.

Every number that changes a result lives here so that a run is described by its config alone
(the config is stored in every checkpoint). Nested sections (`model`, `loss`) stay plain
dictionaries and are handed to `ModelConfig` / `LossWeights`, so this module does not depend
on the network code and ablations need no code change (`loss.similarity=0`).
"""

import json
import math
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

from adds_ros.errors import UserValueError
from adds_training.networks import NORMALISATIONS  # the package's names: no torch import

MODES = ('adds', 'monodepth2')
# How the domains' frames pass through the shared encoder (docs/model.md, "Domain batches").
DOMAIN_BATCHES = ('separate', 'joint')
SECTIONS = ('model', 'loss')
# Pose source of the baseline's night twins (TrainConfig.twin_pose).
TWIN_POSES = ('own', 'day')


class ConfigError(UserValueError):
    """A training config that cannot describe a run: `adds train` prints it as one line."""


def _type_ok(value: Any, annotation: Any) -> bool:
    """Whether a YAML value fits a TrainConfig annotation (int counts as float, bool as no int)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union:  # Optional[x]
        return any(_type_ok(value, arg) for arg in args)
    if origin in (list, List):
        return isinstance(value, list) and all(_type_ok(v, args[0]) for v in value)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typing.get_origin(annotation) or annotation)


def _section_keys(section: str) -> List[str]:
    """List the keys a `model` / `loss` section may hold (the fields of the class it becomes)."""
    if section == 'model':
        from adds_training.networks.adds import ModelConfig as target
    else:
        from adds_training.losses import LossWeights as target
    return [f.name for f in fields(target)]


@dataclass
class TrainConfig:
    """What `adds train` does. Defaults follow the reference (method.md, "Training setup")."""

    mode: str = 'adds'                  # 'adds' (domain separation) or 'monodepth2' (baseline)
    data_root: str = ''
    out_dir: str = 'outputs/run'
    train_split: str = 'train'
    # Baseline only: also train on the fake-night twins (Monodepth2 + CycleGAN), no separation.
    use_fake_night: bool = False
    # 'separate' (reference): day and night pass the shared encoder as two batches, so its
    # BatchNorm trains on per-domain statistics but tests on their running mix; 'joint': one
    # batch, training sees the mix that test time uses (docs/model.md, "Domain batches").
    domain_batch: str = 'separate'
    # Baseline with twins: which frames' predicted camera motion warps the night twins:
    # 'own' (the night frames', the reference baseline) or 'day' (the day frames', as ADDS
    # does: a twin has the day frame's geometry), so both methods share one pose source.
    twin_pose: str = 'own'
    # BatchNorm statistics of the depth network at test time, stored in every checkpoint and
    # used for validation: 'running' (the averages) or 'per_image' (each image's own).
    test_normalisation: str = 'running'
    # Model selection: mean Abs Rel over these splits under `val_protocol` (never a test split).
    val_splits: List[str] = field(default_factory=lambda: ['val_day', 'val_night'])
    val_protocol: str = 'adds40'
    val_every_epochs: int = 1
    val_every_steps: Optional[int] = None   # also validate every N steps (short runs)
    height: int = 256
    width: int = 512
    frame_ids: List[int] = field(default_factory=lambda: [0, -1, 1])
    min_depth: float = 0.1
    max_depth: float = 100.0
    batch_size: int = 6                 # per process; the global batch is this x world size
    num_workers: int = 4
    epochs: int = 20
    max_steps: Optional[int] = None     # stop early (smoke tests, small experiments)
    lr: float = 1e-4
    lr_decay_epochs: List[int] = field(default_factory=lambda: [15])
    lr_gamma: float = 0.1
    # Linear learning-rate warm-up over the first N optimiser steps (0: none, the reference).
    # From random weights at batch 4 some runs overshoot early and stall (docs/results.md).
    lr_warmup_steps: int = 0
    grad_clip: Optional[float] = None
    # Fine-tuning: start from these weights (a project best.pt / last.pt, or a folder of the
    # ADDS authors' released .pth files) instead of random / ImageNet ones; `init_parts` says
    # which (networks.init_from.PARTS). Resuming from out_dir/last.pt still wins.
    init_from: Optional[str] = None
    init_parts: List[str] = field(default_factory=lambda: ['encoders', 'decoders', 'pose'])
    # ADDS: ramp the auxiliary loss weights (reconstruction, similarity, orthogonality)
    # linearly from 0 over the first N optimiser steps (0: none, the reference).
    aux_ramp_steps: int = 0
    augment: bool = True
    seed: int = 0
    device: str = 'auto'                # 'auto', 'cpu', 'cuda', 'cuda:1', ...
    # PyTorch CPU threads per process (None: PyTorch's default). On a loaded, shared CPU one
    # thread can be many times faster than several that wait for each other (docs/results.md).
    cpu_threads: Optional[int] = None
    amp: bool = True                    # mixed precision on CUDA (ignored on CPU)
    # torch.compile the view-synthesis losses (Objective; docs/training.md, "Devices").
    compile_losses: bool = False
    channels_last: bool = True
    max_nonfinite: int = 20             # consecutive skipped steps before the run stops
    log_every: int = 10
    image_every: int = 200
    checkpoint_every: int = 500
    # Every N steps, log each loss term's gradient norm on the shared encoder (None: never).
    # Costs one extra backward pass per term on those steps (docs/model.md, "Loss balance").
    grad_norm_every: Optional[int] = None
    model: Dict = field(default_factory=dict)   # -> ModelConfig(**model)
    loss: Dict = field(default_factory=dict)    # -> LossWeights(**loss)

    def __post_init__(self) -> None:
        for f in fields(self):  # YAML 1.1 reads 1e-4 (no dot) as a string
            value = getattr(self, f.name)
            if f.type in (float, Optional[float]) and isinstance(value, str):
                try:
                    setattr(self, f.name, float(value))
                except ValueError:
                    raise ConfigError(f'{f.name} must be a number, got {value!r}') from None
        self.validate()

    def validate(self) -> None:
        """Refuse types and values no run can use, naming the key (ConfigError)."""
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if not _type_ok(value, hints[f.name]):
                raise ConfigError(f'{f.name} must be {_describe(hints[f.name])}, got {value!r}')
        if self.mode not in MODES:
            raise ConfigError(f'mode must be one of {MODES}, got {self.mode!r}')
        if self.mode == 'adds' and self.use_fake_night:
            raise ConfigError('use_fake_night is for the monodepth2 baseline; ADDS always '
                              'uses the fake-night twins')
        if self.domain_batch not in DOMAIN_BATCHES:
            raise ConfigError(f'domain_batch must be one of {DOMAIN_BATCHES}, got '
                              f'{self.domain_batch!r}')
        if self.twin_pose not in TWIN_POSES:
            raise ConfigError(f'twin_pose must be one of {TWIN_POSES}, got {self.twin_pose!r}')
        self._validate_init()
        if self.test_normalisation not in NORMALISATIONS:
            raise ConfigError(f'test_normalisation must be one of {NORMALISATIONS}, got '
                              f'{self.test_normalisation!r}')
        if self.domain_batch == 'joint' and self.model.get('stem') == 'per_domain':
            raise ConfigError("domain_batch 'joint' needs model.stem 'shared': a per-domain stem "
                              'cannot run day and night in one forward')
        if self.height % 32 or self.width % 32 or min(self.height, self.width) < 32:
            raise ConfigError(f'height and width must be positive multiples of 32, got '
                              f'{self.height}x{self.width}')
        if 0 not in self.frame_ids or len(set(self.frame_ids)) != len(self.frame_ids):
            raise ConfigError(f'frame_ids must contain 0 (the target frame) and no repeats, got '
                              f'{self.frame_ids}')
        for name in ('batch_size', 'epochs', 'log_every', 'image_every', 'checkpoint_every',
                     'max_nonfinite', 'val_every_epochs', 'max_steps', 'val_every_steps',
                     'cpu_threads', 'grad_norm_every'):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1, got {getattr(self, name)}')
        for name in ('num_workers', 'seed'):
            if getattr(self, name) < 0:
                raise ConfigError(f'{name} must be >= 0, got {getattr(self, name)}')
        if not 0 < self.lr < math.inf:
            raise ConfigError(f'lr must be a positive finite number, got {self.lr}')
        if not 0 < self.lr_gamma <= 1:
            raise ConfigError(f'lr_gamma must be in (0, 1], got {self.lr_gamma}')
        if any(epoch < 0 for epoch in self.lr_decay_epochs):
            raise ConfigError(f'lr_decay_epochs must be >= 0, got {self.lr_decay_epochs}')
        if self.aux_ramp_steps < 0:
            raise ConfigError(f'aux_ramp_steps must be >= 0, got {self.aux_ramp_steps}')
        if self.lr_warmup_steps < 0:
            raise ConfigError(f'lr_warmup_steps must be >= 0, got {self.lr_warmup_steps}')
        if self.grad_clip is not None and not 0 < self.grad_clip < math.inf:
            raise ConfigError(f'grad_clip must be positive (or null), got {self.grad_clip}')
        if not 0 < self.min_depth < self.max_depth < math.inf:
            raise ConfigError(f'need 0 < min_depth < max_depth, got {self.min_depth}, '
                              f'{self.max_depth}')
        for section in SECTIONS:
            known = _section_keys(section)
            unknown = sorted(set(getattr(self, section)) - set(known))
            if unknown:
                raise ConfigError(f'unknown {section} keys {unknown} (known: {known})')

    def _validate_init(self) -> None:
        from adds_training.networks.init_from import check_parts

        try:
            check_parts(self.init_parts)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        if self.init_from is not None and not Path(self.init_from).exists():
            raise ConfigError(f'init_from {self.init_from}: no such checkpoint file or folder')

    def to_dict(self) -> dict:
        return asdict(self)


def _describe(annotation: Any) -> str:
    """Name a type annotation the way a YAML writer thinks of it ('an integer or null')."""
    names = {int: 'an integer', float: 'a number', bool: 'true or false', str: 'a string',
             type(None): 'null', dict: 'a mapping', Dict: 'a mapping'}
    if typing.get_origin(annotation) is typing.Union:
        return ' or '.join(_describe(arg) for arg in typing.get_args(annotation))
    if typing.get_origin(annotation) in (list, List):
        return f'a list of {_describe(typing.get_args(annotation)[0])[2:]}s'
    return names.get(annotation, names.get(typing.get_origin(annotation), str(annotation)))


def parse_override(word: str) -> tuple:
    """Split `a.b=value` into (['a', 'b'], value); the value is parsed as YAML ([1, 2], true)."""
    key, sep, text = word.partition('=')
    if not sep or not key:
        raise ConfigError(f'override must look like key=value, got {word!r}')
    value = yaml.safe_load(text) if text else ''
    if isinstance(value, str):  # YAML 1.1 leaves 1e-4 a string
        try:
            value = float(value)
        except ValueError:
            pass
    return key.split('.'), value


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Apply `key=value` words to a config dictionary; unknown top-level keys are errors."""
    known = {f.name for f in fields(TrainConfig)}
    data = json.loads(json.dumps(data))  # deep copy of plain data
    for word in overrides:
        path, value = parse_override(word)
        if path[0] not in known:
            raise ConfigError(f'unknown config key {path[0]!r} in {word!r}')
        if len(path) > 1 and path[0] not in SECTIONS:
            raise ConfigError(f'{word!r}: {path[0]!r} is not a section ({", ".join(SECTIONS)})')
        target = data
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return data


def load_config(path: Optional[str] = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config (or start from the defaults) and apply overrides."""
    data: dict = {}
    if path:
        if not Path(path).is_file():
            raise ConfigError(f'{path}: no such config file')
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise ConfigError(f'{path}: not a YAML file: {str(err).splitlines()[0]}') from None
        if not isinstance(data, dict):
            raise ConfigError(f'{path}: a training config must be a YAML mapping')
    data = apply_overrides(data, overrides)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f'{path or "config"}: unknown config keys {unknown} (known: '
                          f'{sorted(known)})')
    return TrainConfig(**data)
