# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Training configuration: one dataclass, loaded from YAML, overridden by `key=value` words.

Every number that changes a result lives here so that a run is described by its config alone
(the config is stored in every checkpoint). Nested sections (`model`, `loss`) stay plain
dictionaries and are handed to `ModelConfig` / `LossWeights`, so this module does not depend
on the network code and ablations need no code change (`loss.similarity=0`).
"""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

MODES = ('adds', 'monodepth2')
SECTIONS = ('model', 'loss')


@dataclass
class TrainConfig:
    """What `adds train` does. Defaults follow the reference (method.md, "Training setup")."""

    mode: str = 'adds'                  # 'adds' (domain separation) or 'monodepth2' (baseline)
    data_root: str = ''
    out_dir: str = 'outputs/run'
    train_split: str = 'train'
    # Baseline only: also train on the fake-night twins (Monodepth2 + CycleGAN), no separation.
    use_fake_night: bool = False
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
    grad_clip: Optional[float] = None
    augment: bool = True
    seed: int = 0
    device: str = 'auto'                # 'auto', 'cpu', 'cuda', 'cuda:1', ...
    # PyTorch CPU threads per process (None: PyTorch's default). On a loaded, shared CPU one
    # thread can be many times faster than several that wait for each other (docs/results.md).
    cpu_threads: Optional[int] = None
    amp: bool = True                    # mixed precision on CUDA (ignored on CPU)
    channels_last: bool = True
    max_nonfinite: int = 20             # consecutive skipped steps before the run stops
    log_every: int = 10
    image_every: int = 200
    checkpoint_every: int = 500
    model: Dict = field(default_factory=dict)   # -> ModelConfig(**model)
    loss: Dict = field(default_factory=dict)    # -> LossWeights(**loss)

    def __post_init__(self) -> None:
        for f in fields(self):  # YAML 1.1 reads 1e-4 (no dot) as a string
            value = getattr(self, f.name)
            if f.type in (float, Optional[float]) and isinstance(value, str):
                try:
                    setattr(self, f.name, float(value))
                except ValueError:
                    raise ValueError(f'{f.name} must be a number, got {value!r}') from None
        if self.mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {self.mode!r}')
        if self.mode == 'adds' and self.use_fake_night:
            raise ValueError('use_fake_night is for the monodepth2 baseline; ADDS always '
                             'uses the fake-night twins')
        if self.height % 32 or self.width % 32:
            raise ValueError(f'height and width must be multiples of 32, got '
                             f'{self.height}x{self.width}')
        if 0 not in self.frame_ids:
            raise ValueError(f'frame_ids must contain 0 (the target frame), got {self.frame_ids}')
        for name in ('batch_size', 'epochs', 'log_every', 'image_every', 'checkpoint_every',
                     'max_nonfinite', 'val_every_epochs'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if not 0 < self.min_depth < self.max_depth:
            raise ValueError(f'need 0 < min_depth < max_depth, got {self.min_depth}, '
                             f'{self.max_depth}')

    def to_dict(self) -> dict:
        return asdict(self)


def parse_override(word: str) -> tuple:
    """Split `a.b=value` into (['a', 'b'], value); the value is parsed as YAML ([1, 2], true)."""
    key, sep, text = word.partition('=')
    if not sep or not key:
        raise ValueError(f'override must look like key=value, got {word!r}')
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
            raise ValueError(f'unknown config key {path[0]!r} in {word!r}')
        if len(path) > 1 and path[0] not in SECTIONS:
            raise ValueError(f'{word!r}: {path[0]!r} is not a section ({", ".join(SECTIONS)})')
        target = data
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return data


def load_config(path: Optional[str] = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config (or start from the defaults) and apply overrides."""
    data: dict = {}
    if path:
        text = Path(path).read_text()
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f'{path}: a training config must be a YAML mapping')
    data = apply_overrides(data, overrides)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f'unknown config keys {unknown} (known: {sorted(known)})')
    return TrainConfig(**data)
