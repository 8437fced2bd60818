# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Where a training-side process computes and how it seeds its random generators.

The one place the trainer, evaluation, CycleGAN and the benchmarks pick a device and seed, so
'auto' means the same everywhere and no module imports the trainer for a helper.
"""

import random

import numpy as np
import torch

from adds_ros.errors import UserValueError


def pick_device(name: str = 'auto', local_rank: int = 0) -> torch.device:
    """'auto' -> this rank's GPU if there is one, else the CPU; a named CUDA device must exist."""
    if name == 'auto':
        name = f'cuda:{local_rank}' if torch.cuda.is_available() else 'cpu'
    device = torch.device(name)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise UserValueError(f'device {name} requested but CUDA is not available')
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (torch's on every device)."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
