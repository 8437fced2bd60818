# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""One optimiser step of ADDS and of the Monodepth2 baseline: time, samples/s, peak memory.

Each objective runs in a fresh process, so its peak resident memory is its own (not what the
benchmark loaded before). The step is forward + backward + Adam through the trainer's own loss
module (`adds_training.objectives.Objective`, what DDP wraps); forward calls per sub-network are
counted too, to show no network runs twice (the reference implementation ran its pose network
once per domain).
"""

import multiprocessing
import resource
import time
from typing import Any, Dict, Iterator, List, Sequence, Tuple

from adds_training.tools.bench.stats import summarize


def synthetic_batch(batch: int, height: int, width: int, seed: int = 0) -> Dict[Any, Any]:
    """Make a batch in the objectives' format: day and fake-night triplets, RobotCar K."""
    import torch

    from adds_training.export import robotcar_defaults

    generator = torch.Generator().manual_seed(seed)
    frames = {d: {f: torch.rand(batch, 3, height, width, generator=generator)
                  for f in (0, -1, 1)} for d in ('day', 'night')}
    k = torch.eye(4)
    k[:3, :3] = torch.tensor(robotcar_defaults()['intrinsics'])
    k[0] *= width
    k[1] *= height
    k = k.expand(batch, 4, 4).contiguous()
    return dict(frames, K=k, inv_K=torch.linalg.inv(k))


def sub_networks(model: Any) -> Iterator[Tuple[str, Any]]:
    """Yield the model's children, each entry of a ModuleDict (per-domain nets) on its own."""
    from torch import nn

    for name, module in model.named_children():
        if isinstance(module, nn.ModuleDict):
            yield from ((f'{name}.{key}', sub) for key, sub in module.items())
        else:
            yield name, module


def forward_counts(model: Any) -> Tuple[Dict[str, int], List[Any]]:
    """Count forward calls per sub-network; returns the counts and the hooks to remove."""
    counts: Dict[str, int] = {}
    handles = []
    for name, module in sub_networks(model):
        counts[name] = 0
        handles.append(module.register_forward_hook(
            lambda *_, n=name: counts.__setitem__(n, counts[n] + 1)))
    return counts, handles


def train_steps(objective: str, size: Tuple[int, int], batch: int, steps: int, warmup: int,
                threads: int, device: str = 'cpu', seed: int = 0) -> Dict[str, Any]:
    """Time `steps` optimiser steps after `warmup` ones; runs in the calling process."""
    import torch

    from adds_training.device import pick_device, seed_everything
    from adds_training.networks import ADDSModel, ModelConfig
    from adds_training.objectives import Objective

    torch.set_num_threads(threads)
    seed_everything(seed)
    dev = pick_device(device)
    model = ADDSModel(ModelConfig()).to(dev).train()
    losses = Objective(model, objective)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = {key: ({f: t.to(dev) for f, t in value.items()} if isinstance(value, dict)
                  else value.to(dev))
            for key, value in synthetic_batch(batch, *size, seed).items()}
    counts, handles = forward_counts(model)
    seconds = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        losses(data)['loss'].backward()
        optimiser.step()
        if dev.type == 'cuda':
            torch.cuda.synchronize()
        if i == 0:
            for handle in handles:
                handle.remove()
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    summary = summarize(seconds)
    return {'objective': objective, 'size': f'{size[1]}x{size[0]}', 'batch': batch,
            'device': dev.type, 'step_p50_s': summary['p50_ms'] / 1e3, 'steps': len(seconds),
            'samples_per_s': batch / (summary['p50_ms'] / 1e3),
            'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            'cuda_max_allocated_mib': (torch.cuda.max_memory_allocated() / 2 ** 20
                                       if dev.type == 'cuda' else None),
            'forward_calls_per_step': {k: v for k, v in counts.items() if v}}


def bench_training(objectives: Sequence[str], size: Tuple[int, int], batch: int, steps: int,
                   warmup: int, threads: int, device: str = 'cpu'
                   ) -> List[Dict[str, Any]]:
    """One fresh process per objective (spawned: no inherited memory or thread pools)."""
    context = multiprocessing.get_context('spawn')
    rows = []
    for objective in objectives:
        with context.Pool(1) as pool:
            rows.append(pool.apply(train_steps, (objective, size, batch, steps, warmup,
                                                 threads, device)))
    return rows
