# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds train`: ADDS (domain separation) or the Monodepth2 baseline, on one device or many.

One process per device; `torchrun --nproc_per_node N -m adds_ros.cli train ...` gives DDP
(NCCL on GPUs, gloo on CPUs). Every rank draws the same model initialisation from the seed, a
distributed sampler splits each epoch, rank 0 alone logs, validates and writes checkpoints.

Exact resume: a sample's augmentation is a pure function of (seed, epoch, sample index) and the
epoch order of (seed, epoch), so a run restarted from `last.pt` skips the batches already seen
and continues with the same batches, the same random draws, the same parameters.
"""

import argparse
import contextlib
import copy
import dataclasses
import itertools
import json
import logging
import math
import os
import random
import time
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from adds_ros.atomic import write_text_atomic
from adds_training.checkpoint import (capture_rng_state, load_checkpoint, restore_rng_state,
                                      save_checkpoint)
from adds_ros.errors import UserValueError
from adds_training.config import ConfigError, load_config, TrainConfig
from adds_training.device import pick_device, seed_everything

LOGGER = logging.getLogger(__name__)

# Config keys that may change between a run and its resumption (they do not alter results).
RESUMABLE_CHANGES = {'epochs', 'max_steps', 'log_every', 'image_every', 'checkpoint_every',
                     'num_workers', 'device', 'out_dir', 'data_root', 'val_every_epochs',
                     'val_every_steps', 'cpu_threads', 'grad_norm_every'}

# Why from-scratch runs need a smaller min_depth: docs/training.md, "Training from scratch".
FROM_SCRATCH_WARNING = (
    'training from random initialisation (model.pretrained_path is not set) with min_depth '
    '{} : the pose network starts with about 0.003 units of motion per frame, which makes '
    'every depth of the reference range look far, and such runs slide into a static, '
    'saturated solution. Set min_depth=0.01 (as config/train_synthetic.yaml does) or give '
    'ImageNet weights.')


def config_defaults() -> Dict[str, Any]:
    """Return the default value of every TrainConfig key."""
    return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(TrainConfig)}


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Return a well-mixed 32-bit seed for one sample of one epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class SeededDataset(Dataset):
    """Make every random draw of `dataset[i]` a function of (seed, epoch, i).

    This removes the dependence of augmentation on worker count, worker scheduling and on
    where a run was resumed. The caller's generators are left as they were.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            seed_everything(sample_seed(self.seed, self.epoch, index))
            try:
                return self.dataset[index]
            finally:
                random.setstate(state[0])
                np.random.set_state(state[1])


class ResumableSampler(DistributedSampler):
    """DistributedSampler (per-epoch shuffle from the seed) that can skip the first samples."""

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                         drop_last=True)
        self.skip = 0

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(super().__iter__(), self.skip, None)

    def __len__(self) -> int:
        return self.num_samples - self.skip


def make_objective(model: nn.Module, config: TrainConfig) -> nn.Module:
    """Return the training loss of `config` as one module (what DDP wraps)."""
    from adds_training.losses import LossWeights
    from adds_training.objectives import Objective

    try:
        weights = LossWeights(**config.loss)
    except ValueError as err:  # a bad loss.balance / loss.*_form value
        raise ConfigError(str(err)) from None
    domains = ('day', 'night') if config.use_fake_night else ('day',)
    return Objective(model, config.mode, weights, config.min_depth, config.max_depth, domains,
                     config.compile_losses, config.domain_batch, config.twin_pose)


def to_device(batch, device: torch.device, channels_last: bool):
    """Move a (nested) batch to the device; 4-D image tensors optionally channels-last."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.dim() == 4 and batch.shape[1] == 3:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, Mapping):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    return batch


def checkpoint_meta(config: TrainConfig, info) -> dict:
    """Collect what inference needs besides weights: depth range, input size, crop, K."""
    gt_h, gt_w = info.gt_size
    top, bottom, left, right = info.gt_crop
    return {'min_depth': config.min_depth, 'max_depth': config.max_depth,
            'height': config.height, 'width': config.width,
            'crop': [top / gt_h, bottom / gt_h, left / gt_w, right / gt_w],
            'intrinsics': [list(map(float, row)) for row in info.K],
            'dataset': info.name, 'normalisation': config.test_normalisation}


class NonFiniteLossError(RuntimeError):
    """Raised when too many consecutive steps had a non-finite loss or gradient."""


class Trainer:
    """Owns the model, optimiser, data and bookkeeping of one training run (one rank)."""

    def __init__(self, config: TrainConfig, rank: int = 0, world_size: int = 1,
                 local_rank: int = 0) -> None:
        from adds_training.data.datasets import TripletDataset
        from adds_training.data.layout import DatasetInfo
        from adds_training.networks import ADDSModel, ModelConfig

        if not config.data_root:
            raise ConfigError('data_root is not set: pass data_root=DIR (a processed dataset)')
        if not Path(config.data_root).is_dir():
            raise ConfigError(f'data_root {config.data_root}: no such folder')
        self.config, self.rank, self.world_size = config, rank, world_size
        if config.cpu_threads:
            torch.set_num_threads(config.cpu_threads)
        # A saturated sigmoid yields denormal floats, which run many times slower on CPUs.
        torch.set_flush_denormal(True)
        self.device = pick_device(config.device, local_rank)
        self.distributed = world_size > 1
        self.out_dir = Path(config.out_dir)
        self.info = DatasetInfo.load(Path(config.data_root))
        self.model_config = ModelConfig(**config.model)
        if rank == 0 and not (self.model_config.pretrained_path or config.init_from) \
                and config.min_depth >= 0.1:
            warnings.warn(FROM_SCRATCH_WARNING.format(config.min_depth), stacklevel=2)
        seed_everything(config.seed)  # identical initialisation on every rank
        self.model = ADDSModel(self.model_config).to(self.device)
        self.init_meta = self._init_from() if config.init_from else None
        self.channels_last = config.channels_last
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.objective: nn.Module = make_objective(self.model, config)
        if self.distributed:
            self.objective = nn.parallel.DistributedDataParallel(
                self.objective, device_ids=[self.device.index] if self.device.type == 'cuda'
                else None, find_unused_parameters=True)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=config.lr, fused=True)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(config.lr_decay_epochs), gamma=config.lr_gamma)
        use_cuda = self.device.type == 'cuda'
        self.amp_dtype = (torch.bfloat16 if use_cuda and torch.cuda.is_bf16_supported()
                          else torch.float16)
        self.amp = bool(config.amp and use_cuda)
        fp16 = self.amp and self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler('cuda', enabled=fp16)
        with_night = config.mode == 'adds' or config.use_fake_night
        dataset = TripletDataset(config.data_root, config.train_split, config.height,
                                 config.width, frame_ids=tuple(config.frame_ids),
                                 with_night=with_night, augment=config.augment)
        self.dataset = SeededDataset(dataset, config.seed)
        self.sampler = ResumableSampler(self.dataset, world_size, rank, config.seed)
        # Own generator: creating an epoch's iterator must not draw from the global RNG, or
        # a resumed run (which creates one more iterator) would diverge.
        self.loader = DataLoader(self.dataset, batch_size=config.batch_size,
                                 sampler=self.sampler, num_workers=config.num_workers,
                                 drop_last=True, pin_memory=use_cuda,
                                 generator=torch.Generator().manual_seed(config.seed))
        self.steps_per_epoch = self.sampler.num_samples // config.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f'split {config.train_split!r} has {len(dataset)} samples: fewer '
                             f'than batch_size x processes ({config.batch_size} x '
                             f'{world_size})')
        self.total_steps = config.epochs * self.steps_per_epoch
        if config.max_steps is not None:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.step = self.epoch = self.batch_in_epoch = 0
        self.nonfinite_total = self.nonfinite_run = 0
        self.best: Optional[float] = None
        self.best_step: Optional[int] = None
        self.grad_norms: Dict[int, Dict[str, float]] = {}  # step -> per-term shared-encoder norm
        self.translation_to_depth: Optional[float] = None  # last logged (rank 0)
        self.writer = None
        seed_everything(config.seed + 1000 * rank)  # per-rank stream for the steps' own draws

    def _init_from(self) -> dict:
        """Load `init_parts` of `init_from` (fine-tuning); log what was loaded and left fresh."""
        from adds_training.networks.init_from import init_model

        report = init_model(self.model, self.config.init_from, self.config.init_parts,
                            self.config.mode)
        if self.rank == 0:
            for line in report.lines():
                LOGGER.info(line)
        return report.meta()

    # ---------------------------------------------------------------- state

    def selected_state(self) -> dict:
        """Build the checkpoint of the selected model: what evaluation and export read.

        No optimiser, scheduler or random states: they double the file and only serve resuming,
        which starts from `last.pt`.
        """
        from adds_training.checkpoint import checkpoint_dict

        meta = checkpoint_meta(self.config, self.info)
        if self.init_meta:
            meta['init_from'] = self.init_meta
        state = checkpoint_dict(self.model, meta, self.config.to_dict())
        state.update(step=self.step, epoch=self.epoch, best=self.best, best_step=self.best_step)
        return state

    def state(self, rng_states: Optional[list] = None) -> dict:
        """Build the checkpoint: the selected model's fields plus everything resuming needs."""
        state = self.selected_state()
        state.update(optimizer=self.optimizer.state_dict(),
                     scheduler=self.scheduler.state_dict(), scaler=self.scaler.state_dict(),
                     batch_in_epoch=self.batch_in_epoch, nonfinite_total=self.nonfinite_total,
                     rng=rng_states or [capture_rng_state()], world_size=self.world_size,
                     grad_norms=self.grad_norms, translation_to_depth=self.translation_to_depth)
        return state

    def save(self) -> None:
        """Write `last.pt` from rank 0 with every rank's RNG state.

        Every rank must call this at the same point of the run.
        """
        states = [capture_rng_state()]
        if self.distributed:
            states = [None] * self.world_size
            dist.all_gather_object(states, capture_rng_state())
        if self.rank == 0:
            save_checkpoint(self.out_dir / 'last.pt', self.state(states))

    def resume(self, path: Path) -> None:
        """Continue from a checkpoint of this same configuration."""
        state = load_checkpoint(path, map_location=self.device)
        if 'optimizer' not in state:
            raise UserValueError(
                f'{path} holds a selected model only (no optimiser, data or random state to '
                'continue from); resume from last.pt of the same out_dir')
        saved_world = state.get('world_size', 1)
        if saved_world != self.world_size:
            raise UserValueError(
                f'{path} was written by a run with {saved_world} process(es), this one has '
                f'{self.world_size}: an exact resume needs the same number (each process '
                f'draws its own share of every epoch). Rerun with {saved_world} process(es), '
                'or start a new out_dir')
        # A key the checkpoint predates counts as its default: the behaviour it was written with.
        saved = {**config_defaults(), **state['config']}
        current = self.config.to_dict()
        current['model'] = dataclasses.asdict(self.model_config)
        changed = sorted(k for k in current
                         if k not in RESUMABLE_CHANGES and saved.get(k) != current[k])
        if changed:
            raise ConfigError(f'{path} was written with a different config ({changed}); use a '
                              'new out_dir or restore those values')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.scheduler.load_state_dict(state['scheduler'])
        self.scaler.load_state_dict(state['scaler'])
        for key in ('step', 'epoch', 'batch_in_epoch', 'nonfinite_total', 'best'):
            setattr(self, key, state[key])
        self.best_step = state.get('best_step')
        self.grad_norms = {int(k): v for k, v in state.get('grad_norms', {}).items()}
        # A run resumed at its last step logs nothing more: its summary keeps the last value.
        self.translation_to_depth = state.get('translation_to_depth')
        restore_rng_state(state['rng'][self.rank % len(state['rng'])])

    # ---------------------------------------------------------------- steps

    def _all(self, flag: bool) -> bool:
        """Return True on every rank only if `flag` is true on every rank."""
        if not self.distributed:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return bool(value.item())

    def train_step(self, batch: Mapping) -> Optional[Dict[str, float]]:
        """One optimiser step; returns the loss terms, or None if the step was skipped."""
        batch = to_device(batch, self.device, self.channels_last)
        every = self.config.grad_norm_every
        parts: Optional[Dict[str, torch.Tensor]] = {} if every and self.step % every == 0 \
            else None
        objective = self.objective.module if self.distributed else self.objective
        objective.aux_scale = self.ramp_factor(self.config.aux_ramp_steps, self.step)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
            terms = self.objective(batch) if parts is None else self.objective(batch, parts)
        loss = terms['loss']
        if parts is not None:
            self._measure_grad_norms(terms, parts)
        # Backward runs even for a bad loss so that DDP's gradient exchange stays in step.
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        clip = self.config.grad_clip or math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        # Gradients are already averaged over ranks, the loss is not: agree on it explicitly.
        loss_ok = self._all(bool(torch.isfinite(loss)))
        # Under fp16 an overflowing gradient is routine: the grad scaler skips and backs off.
        grads_ok = bool(torch.isfinite(grad_norm)) or self.scaler.is_enabled()
        if not (loss_ok and grads_ok):
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.update()
            self._count_nonfinite(loss.detach())
            return None
        factor = self.warmup_factor(self.step)
        scheduled = [group['lr'] for group in self.optimizer.param_groups]
        if factor < 1:  # warm-up scales this step only: the scheduler keeps its own lr
            for group in self.optimizer.param_groups:
                group['lr'] *= factor
        self.scaler.step(self.optimizer)
        if factor < 1:
            for group, lr in zip(self.optimizer.param_groups, scheduled):
                group['lr'] = lr
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.nonfinite_run = 0
        out = {k: float(v.detach()) for k, v in terms.items()}
        out['grad_norm'] = float(grad_norm)
        return out

    def warmup_factor(self, step: int) -> float:
        """Learning-rate factor of 0-based optimiser step `step`: linear up to lr_warmup_steps."""
        return self.ramp_factor(self.config.lr_warmup_steps, step)

    @staticmethod
    def ramp_factor(steps: int, step: int) -> float:
        """(step + 1) / steps for the first `steps` 0-based steps, then 1 (0 steps: always 1)."""
        return min(1.0, (step + 1) / steps) if steps else 1.0

    def _measure_grad_norms(self, terms: Mapping[str, torch.Tensor],
                            parts: Mapping[str, torch.Tensor]) -> None:
        """Gradient norm of each loss term on the shared (invariant) encoder, this rank's batch.

        Shows which term steers the encoder (docs/model.md, "Loss balance").
        """
        from adds_training.objectives import term_gradient_norms

        norms = term_gradient_norms(terms, parts, self.model.invariant.parameters())
        self.grad_norms[self.step] = norms
        self._log_scalars({f'grad_norm_shared/{k}': v for k, v in norms.items()})

    def _count_nonfinite(self, loss: torch.Tensor) -> None:
        self.nonfinite_total += 1
        self.nonfinite_run += 1
        if self.rank == 0:
            LOGGER.warning(f'step {self.step}: non-finite loss or gradient '
                           f'({loss.item():.4g}); step skipped ({self.nonfinite_total} so far)')
        if self.nonfinite_run >= self.config.max_nonfinite:
            raise NonFiniteLossError(
                f'{self.nonfinite_run} consecutive steps had a non-finite loss or gradient '
                f'(last at step {self.step}); stopping. Lower lr, check the data for NaN or '
                f'empty frames, or resume from an earlier checkpoint in {self.out_dir}')

    # ---------------------------------------------------------------- validation

    def _test_net(self, domain: str) -> nn.Module:
        """Return the depth network as it is tested: `test_normalisation` applied (a copy)."""
        from adds_training.networks import use_image_statistics

        net = self.model.depth_net(domain)
        if self.config.test_normalisation == 'per_image':
            net = use_image_statistics(copy.deepcopy(net))
        return net

    def validate(self) -> Optional[float]:
        """Mean Abs Rel over the validation splits (rank 0); None if none are configured."""
        from adds_training.evaluate import evaluate_split
        from adds_training.metrics import get_protocol, mean_metrics

        splits = [s for s in self.config.val_splits if s]
        if not splits or self.rank != 0:
            return None
        protocol = get_protocol(self.config.val_protocol)
        scores = {}
        # Validation must not move the training's random generators (its DataLoader draws a
        # seed from torch's): else the schedule of validation changes the run, and early
        # training is chaotic enough that this decides whether a run learns (docs/results.md).
        rng = capture_rng_state()
        try:
            for split in splits:
                domain = 'night' if 'night' in split else 'day'
                rows = evaluate_split(self._test_net(domain), self.config.data_root, split,
                                      [protocol], self.config.height, self.config.width,
                                      self.config.min_depth, self.config.max_depth,
                                      self.device)[protocol.name]
                scores[split] = mean_metrics(rows)['abs_rel']
        finally:
            restore_rng_state(rng)
            self.model.train()
        score = float(np.mean(list(scores.values())))
        self._log_scalars({f'val/{k}/abs_rel': v for k, v in scores.items()})
        if self.best is None or score < self.best:
            self.best, self.best_step = score, self.step
            save_checkpoint(self.out_dir / 'best.pt', self.selected_state())
        LOGGER.info(f'epoch {self.epoch} step {self.step}: val abs_rel {scores} '
                    f'(mean {score:.4f}, best {self.best:.4f})')
        return score

    # ---------------------------------------------------------------- logging

    def _log_scalars(self, values: Dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, self.step)

    @contextlib.contextmanager
    def _evaluating(self) -> Iterator[nn.Module]:
        """Yield the model in eval mode for a look between steps; back to training after."""
        self.model.eval()
        try:
            yield self.model
        finally:
            self.model.train()

    def _log_geometry(self, batch: Mapping) -> None:
        """Log |t| / median depth (`objectives.translation_to_depth`): a stall shows early."""
        if self.writer is None:
            return
        from adds_training.objectives import translation_to_depth

        with self._evaluating() as model:
            self.translation_to_depth = translation_to_depth(
                model, batch, self.config.min_depth, self.config.max_depth)
        self._log_scalars({'geometry/translation_to_depth': self.translation_to_depth})

    @torch.no_grad()
    def _log_images(self, batch: Mapping) -> None:
        """Input, fake night, disparity and reconstruction of the first sample."""
        if self.writer is None:
            return
        with self._evaluating() as model:
            panels = {}
            for domain in ('day', 'night'):
                if domain not in batch:
                    continue
                image = batch[domain][0][:1]
                features = model.invariant_features(image, domain)
                disp = model.depth(features)[0]
                panels[f'{domain}/input'] = image
                panels[f'{domain}/disparity'] = (disp / disp.max().clamp_min(1e-6)).expand(
                    -1, 3, -1, -1)
                if self.config.mode == 'adds':
                    recon = model.reconstruct(model.private_features(image, domain),
                                              features[-1])
                    panels[f'{domain}/reconstruction'] = recon.clamp(0, 1)
        for key, image in panels.items():
            self.writer.add_image(key, image[0].float().cpu(), self.step)

    # ---------------------------------------------------------------- loop

    def fit(self) -> dict:
        """Train until `epochs` or `max_steps`; return a summary (rank 0's view)."""
        from torch.utils.tensorboard import SummaryWriter

        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(self.out_dir / 'tensorboard'))
        self.model.train()
        bar = tqdm(total=self.total_steps, initial=self.step, disable=self.rank != 0,
                   desc=f'train {self.config.mode}', dynamic_ncols=True)
        started, images = time.perf_counter(), 0
        last_terms: Dict[str, float] = {}
        while self.step < self.total_steps:
            self.dataset.set_epoch(self.epoch)
            self.sampler.set_epoch(self.epoch)
            self.sampler.skip = self.batch_in_epoch * self.config.batch_size
            for batch in self.loader:
                batch = to_device(batch, self.device, self.channels_last)  # once, for all uses
                terms = self.train_step(batch)
                self.step += 1
                self.batch_in_epoch += 1
                images += self.config.batch_size * self.world_size
                if terms is not None:
                    last_terms = terms
                self._after_step(batch, terms, bar, images / (time.perf_counter() - started))
                if self.batch_in_epoch == self.steps_per_epoch:
                    self._end_epoch()
                if self.step >= self.total_steps:
                    break
        bar.close()
        every = self.config.val_every_steps
        if self.batch_in_epoch and not (every and self.step % every == 0):
            self.validate()  # stopped inside an epoch: validate what we have
        self._barrier()
        self.save()
        if self.writer is not None:
            self.writer.close()
        summary = {'step': self.step, 'epoch': self.epoch, 'best_val_abs_rel': self.best,
                   'best_step': self.best_step, 'nonfinite_steps': self.nonfinite_total,
                   'last': last_terms, 'shared_grad_norms': dict(self.grad_norms),
                   'translation_to_depth': self.translation_to_depth,
                   'init_from': self.init_meta, 'seconds': time.perf_counter() - started}
        if self.rank == 0:  # what scripts read (adds ablate's stall rule), beside the weights
            write_text_atomic(self.out_dir / 'summary.json',
                              json.dumps(summary, indent=1, default=str) + '\n')
        return summary

    def _after_step(self, batch: Mapping, terms: Optional[Dict[str, float]], bar,
                    rate: float) -> None:
        bar.update(1)
        if terms is not None and self.step % self.config.log_every == 0:
            bar.set_postfix(loss=f'{terms["loss"]:.4f}', img_s=f'{rate:.1f}',
                            skipped=self.nonfinite_total)
            self._log_scalars({f'loss/{k}': v for k, v in terms.items()})
            lr = self.optimizer.param_groups[0]['lr'] * self.warmup_factor(self.step - 1)
            self._log_scalars({'lr': lr,
                               'images_per_s': rate, 'nonfinite_steps': self.nonfinite_total})
            self._log_geometry(batch)
        if self.step % self.config.image_every == 0:
            self._log_images(batch)
        every = self.config.val_every_steps
        if every and self.step % every == 0 and self.batch_in_epoch < self.steps_per_epoch:
            self.validate()  # (at an epoch's end, _end_epoch validates)
            self._barrier()
        if self.step % self.config.checkpoint_every == 0:
            self.save()

    def _end_epoch(self) -> None:
        # The scheduler follows the optimiser's steps of the epoch (reference defect 4).
        self.scheduler.step()
        self.epoch += 1
        self.batch_in_epoch = 0
        if self.epoch % self.config.val_every_epochs == 0:
            self.validate()
        self._barrier()
        self.save()

    def _barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def init_distributed(device: str) -> tuple:
    """(rank, world size, local rank) from torchrun's environment; set up the process group."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world == 1:
        return 0, 1, 0
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    use_nccl = device != 'cpu' and torch.cuda.is_available()
    if use_nccl:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group('nccl' if use_nccl else 'gloo')
    return dist.get_rank(), world, local_rank


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', help='YAML training config (config/train_*.yaml)')
    parser.add_argument('overrides', nargs='*', metavar='key=value',
                        help='config overrides, e.g. data_root=DIR max_steps=100 '
                             'loss.similarity=0 model.num_layers=18')
    parser.add_argument('--fresh', action='store_true',
                        help='ignore out_dir/last.pt instead of resuming from it')


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    rank, world, local_rank = init_distributed(config.device)
    try:
        trainer = Trainer(config, rank, world, local_rank)
        last = Path(config.out_dir) / 'last.pt'
        if last.exists() and not args.fresh:
            trainer.resume(last)
            if rank == 0:
                LOGGER.info(f'resuming from {last} at step {trainer.step}')
        summary = trainer.fit()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if rank == 0:
        print(f'done: {summary}')
    return 0
