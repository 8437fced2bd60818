# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""DDP with two CPU processes (gloo): every rank ends with the same parameters."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from test_trainer_support import make_tiny_dataset, tiny_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _first(params: dict, prefix: str) -> str:
    return next(k for k in params if k.startswith(prefix))[len(prefix):]


def _worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    from adds_training.trainer import Trainer

    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world)
    try:
        # different seeds per rank would be a bug: the trainer seeds the model from the config
        trainer = Trainer(tiny_config(root, out, mode='monodepth2', max_steps=2, batch_size=1,
                                      val_splits=[]), rank, world)
        indices = list(iter(trainer.sampler))
        trainer.fit()
        params = {k: p.detach() for k, p in trainer.model.named_parameters()}
        torch.save({'params': params, 'indices': indices, 'step': trainer.step},
                   f'{out}/rank{rank}.pt')
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_cpu_ranks_keep_identical_parameters(tmp_path):
    root = make_tiny_dataset(tmp_path / 'data')
    out = tmp_path / 'run'
    out.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(root), str(out)), nprocs=2, join=True)
    r0, r1 = (torch.load(out / f'rank{r}.pt') for r in (0, 1))
    assert r0['step'] == r1['step'] == 2
    assert not set(r0['indices']) & set(r1['indices'])  # each rank saw its own samples
    assert all(torch.equal(r0['params'][k], r1['params'][k]) for k in r0['params'])
    # the baseline trained the depth path; the unused private encoders kept the seed's init
    from adds_training.networks import ADDSModel, ModelConfig
    torch.manual_seed(3)
    init = dict(ADDSModel(ModelConfig()).named_parameters())
    assert not torch.equal(init['depth_decoder.' + _first(init, 'depth_decoder.')],
                           r0['params']['depth_decoder.' + _first(init, 'depth_decoder.')])
    name = 'private.day.' + _first(init, 'private.day.')
    assert torch.equal(init[name], r0['params'][name])
    assert (out / 'last.pt').exists() and not list(out.glob('.*'))
