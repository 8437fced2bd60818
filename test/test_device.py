# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The one device/seed helper: what 'auto' resolves to, a clear error, reproducible seeding."""

import random

import numpy as np
import pytest
import torch

from adds_ros.errors import UserError
from adds_training.device import pick_device, seed_everything


def test_auto_picks_this_ranks_gpu_or_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert pick_device('auto') == torch.device('cpu')
    assert pick_device('cpu', local_rank=3) == torch.device('cpu')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert pick_device('auto', local_rank=1) == torch.device('cuda', 1)
    assert pick_device() == torch.device('cuda', 0)


def test_a_missing_cuda_device_is_a_user_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(UserError, match='device cuda:1 requested but CUDA is not available'):
        pick_device('cuda:1')
    with pytest.raises(ValueError):  # callers that catch ValueError still do
        pick_device('cuda')


def test_seed_everything_repeats_every_generator():
    def draws():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    seed_everything(7)
    first = draws()
    seed_everything(7)
    assert draws() == first
    seed_everything(8)
    assert all(a != b for a, b in zip(draws(), first))
    seed_everything(2 ** 40 + 7)  # NumPy takes 32 bits: reduced, not refused
    assert draws()[1] == first[1]
