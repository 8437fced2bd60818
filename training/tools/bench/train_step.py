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
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from adds_ros.tools.stats import summarize


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
                threads: int, device: str = 'cpu', seed: int = 0, precision: str = 'fp32',
                compile_losses: bool = False) -> Dict[str, Any]:
    """Time `steps` optimiser steps after `warmup` ones; runs in the calling process.

    `precision` 'bf16' runs the step under bfloat16 autocast, as the trainer's `amp` does on
    CUDA (geometry stays fp32); `compile_losses` is the trainer's option of that name (the
    first step compiles, so give it a warm-up step). Training FLOPs are 3x the forward's
    convolution FLOPs (backward = two matmuls per forward one), counted on the first step.
    """
    import torch

    from adds_training.device import pick_device, seed_everything
    from adds_training.networks import ADDSModel, ModelConfig
    from adds_training.objectives import Objective
    from adds_training.tools.bench.machine import mac_hooks

    torch.set_num_threads(threads)
    seed_everything(seed)
    dev = pick_device(device)
    model = ADDSModel(ModelConfig()).to(dev).train()
    losses = Objective(model, objective, compile_losses=compile_losses)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = {key: ({f: t.to(dev) for f, t in value.items()} if isinstance(value, dict)
                  else value.to(dev))
            for key, value in synthetic_batch(batch, *size, seed).items()}
    counts, handles = forward_counts(model)
    macs, mac_handles = mac_hooks(model)
    seconds = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == 'bf16'):
            loss = losses(data)['loss']
        loss.backward()
        optimiser.step()
        if dev.type == 'cuda':
            torch.cuda.synchronize()
        if i == 0:
            for handle in handles + mac_handles:
                handle.remove()
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    summary = summarize(seconds)
    step = summary['p50_ms'] / 1e3
    flops = 3 * 2 * sum(macs.values())
    return {'objective': objective, 'size': f'{size[1]}x{size[0]}', 'batch': batch,
            'device': dev.type, 'precision': precision, 'compile_losses': compile_losses,
            'step_p50_s': step, 'steps': len(seconds), 'samples_per_s': batch / step,
            'train_gflop_per_step': flops / 1e9, 'achieved_gflops': flops / step / 1e9,
            'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            'cuda_max_allocated_mib': (torch.cuda.max_memory_allocated() / 2 ** 20
                                       if dev.type == 'cuda' else None),
            'forward_calls_per_step': {k: v for k, v in counts.items() if v}}


def variants(device: str) -> List[Tuple[str, bool]]:
    """(precision, compile_losses) pairs worth timing: bf16 only where a GPU does it fast."""
    import torch

    from adds_training.device import pick_device

    on_cuda = pick_device(device).type == 'cuda'
    precisions = ('fp32', 'bf16') if on_cuda and torch.cuda.is_bf16_supported() else ('fp32',)
    return [(p, c) for c in (False, True) for p in precisions]


def bench_training(objectives: Sequence[str], size: Tuple[int, int], batch: int, steps: int,
                   warmup: int, threads: int, device: str = 'cpu',
                   settings: Optional[Sequence[Tuple[str, bool]]] = None
                   ) -> List[Dict[str, Any]]:
    """One fresh process per objective and setting (spawned: no inherited memory or threads).

    `settings`: (precision, compile_losses) pairs, default `variants(device)`. A compiled
    setting gets at least one warm-up step (the compile).
    """
    context = multiprocessing.get_context('spawn')
    rows = []
    for objective in objectives:
        for precision, compiled in settings or variants(device):
            with context.Pool(1) as pool:
                rows.append(pool.apply(train_steps, (
                    objective, size, batch, steps, max(warmup, int(compiled)), threads, device,
                    0, precision, compiled)))
    return rows


def utilisation(rows: Sequence[Dict[str, Any]], matmul_gflops: Dict[str, float]) -> None:
    """Add each row's share of the machine's matmul rate in its precision (the bench's floor)."""
    for row in rows:
        if row['device'] == 'cuda':
            rate = matmul_gflops.get('cuda bf16' if row['precision'] == 'bf16' else 'cuda')
        else:
            rate = max((v for k, v in matmul_gflops.items() if k.startswith('cpu')),
                       default=None)
        row['flop_utilisation'] = row['achieved_gflops'] / rate if rate else None
