# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""CycleGAN training (published recipe) with atomic checkpoints and exact resume.

Recipe: least-squares GAN loss, cycle loss weight 10, identity loss weight 0.5 x cycle, Adam
2e-4 with beta1 = 0.5, constant learning rate for `epochs` then linear decay to 0 over
`epochs_decay`, a history of 50 generated images for the discriminators. A checkpoint holds
everything that changes during training (nets, optimisers, schedulers, AMP scaler, history
buffers, step, RNG states), and the data order depends only on (seed, epoch, position), so a
resumed run continues exactly as the uninterrupted run would have.
"""

import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from tqdm import tqdm

from adds_ros.atomic import write_text_atomic
from adds_ros.errors import UserValueError
from adds_training.checkpoint import load_torch_file, save_torch_atomic
from adds_training.cyclegan.data import epoch_plan, resolve_images, UnpairedImages
from adds_training.cyclegan.networks import init_weights, PatchDiscriminator, ResnetGenerator
from adds_training.device import pick_device, seed_everything

LOGGER = logging.getLogger(__name__)
CHECKPOINT_FORMAT = 'adds_ros/cyclegan/1'
GENERATOR_FORMAT = 'adds_ros/cyclegan-generator/1'
CHECKPOINT = 'checkpoints/latest.pt'
GENERATOR = 'day2night.pt'
KIND = 'a CycleGAN checkpoint'   # what the files are called in errors
# Settings a resumed run may change without breaking exactness.
RESUMABLE_CHANGES = {'out', 'day', 'night', 'root', 'day_split', 'night_split', 'device', 'amp',
                     'num_workers', 'save_every', 'log_every', 'sample_every', 'max_steps'}


@dataclass
class CycleGANConfig:
    """One CycleGAN run. Images come from folders (`day`, `night`) or splits of `root`."""

    out: str
    day: Optional[str] = None
    night: Optional[str] = None
    root: Optional[str] = None
    day_split: Optional[str] = None
    night_split: Optional[str] = None
    height: int = 256
    width: int = 512
    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9
    batch_size: int = 1
    epochs: int = 100
    epochs_decay: int = 100
    lr: float = 2e-4
    beta1: float = 0.5
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    crop: bool = True
    equalize_night: bool = False
    seed: int = 0
    device: str = 'auto'
    amp: bool = True
    num_workers: int = 2
    save_every: int = 1000
    log_every: int = 50
    sample_every: int = 500
    max_steps: Optional[int] = None

    def __post_init__(self):
        if self.height % 4 or self.width % 4 or self.height < 16 or self.width < 16:
            raise UserValueError(f'height and width must be multiples of 4 and >= 16, '
                                 f'got {self.height}x{self.width}')
        if self.epochs + self.epochs_decay < 1 or min(self.epochs, self.epochs_decay) < 0:
            raise UserValueError('need epochs >= 0, epochs_decay >= 0 and at least one epoch')
        for name in ('batch_size', 'save_every', 'log_every', 'sample_every', 'ngf', 'ndf',
                     'n_blocks'):
            if getattr(self, name) < 1:
                raise UserValueError(f'{name} must be >= 1, got {getattr(self, name)}')


class ImageHistory:
    """The discriminators' history of generated images (Shrivastava et al. 2017).

    Once full, each query returns, with probability 1/2, a stored older image (replaced by the
    new one) instead of the new one, which keeps the discriminator from chasing the latest
    generator only.
    """

    def __init__(self, size: int, seed: int):
        self.size = size
        self.images: List[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(1, generator=self.generator).item() < 0.5:
                slot = int(torch.randint(self.size, (1,), generator=self.generator))
                out.append(self.images[slot])
                self.images[slot] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {'images': [i.cpu() for i in self.images], 'rng': self.generator.get_state()}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.images = [i.to(device) for i in state['images']]
        self.generator.set_state(state['rng'])


def lr_factor(step: int, steps_per_epoch: int, epochs: int, epochs_decay: int) -> float:
    """Constant for `epochs`, then linear to 0 over `epochs_decay` (per step, smooth)."""
    constant = epochs * steps_per_epoch
    decay = epochs_decay * steps_per_epoch
    if step < constant or decay == 0:
        return 1.0
    return max(0.0, 1.0 - (step - constant) / decay)


def _lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss: mean squared distance of the patch scores to 1 (real) or 0."""
    return F.mse_loss(scores.float(), torch.full_like(scores.float(), float(real)))


class CycleGANTrainer:
    """Two generators (day->night, night->day) and two discriminators, trained jointly."""

    def __init__(self, cfg: CycleGANConfig):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.device = pick_device(cfg.device)
        self.use_amp = cfg.amp and self.device.type == 'cuda'
        self.dataset = UnpairedImages(
            resolve_images(cfg.day, cfg.root, cfg.day_split, 'day'),
            resolve_images(cfg.night, cfg.root, cfg.night_split, 'night'),
            (cfg.height, cfg.width), cfg.crop, cfg.equalize_night)
        self.steps_per_epoch = max(1, len(self.dataset) // cfg.batch_size)
        self.total_steps = (cfg.epochs + cfg.epochs_decay) * self.steps_per_epoch
        seed_everything(cfg.seed)
        self.nets = torch.nn.ModuleDict({
            'G_day2night': ResnetGenerator(cfg.ngf, cfg.n_blocks),
            'G_night2day': ResnetGenerator(cfg.ngf, cfg.n_blocks),
            'D_night': PatchDiscriminator(cfg.ndf),
            'D_day': PatchDiscriminator(cfg.ndf)}).to(self.device)
        init_weights(self.nets)
        generators = [*self.nets['G_day2night'].parameters(),
                      *self.nets['G_night2day'].parameters()]
        discriminators = [*self.nets['D_night'].parameters(), *self.nets['D_day'].parameters()]
        betas = (cfg.beta1, 0.999)
        self.opt_G = torch.optim.Adam(generators, lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(discriminators, lr=cfg.lr, betas=betas)
        schedule = self.lr_lambda
        self.sched_G = torch.optim.lr_scheduler.LambdaLR(self.opt_G, schedule)
        self.sched_D = torch.optim.lr_scheduler.LambdaLR(self.opt_D, schedule)
        self.scaler = torch.amp.GradScaler('cuda', enabled=self.use_amp)
        self.history = {'night': ImageHistory(cfg.pool_size, cfg.seed + 1),
                        'day': ImageHistory(cfg.pool_size, cfg.seed + 2)}
        self.step = 0
        self.last: Dict[str, torch.Tensor] = {}  # the latest batch and outputs, for samples

    def lr_lambda(self, step: int) -> float:
        return lr_factor(step, self.steps_per_epoch, self.cfg.epochs, self.cfg.epochs_decay)

    # ---------------------------------------------------------------- one optimisation step
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp)

    def generator_loss(self, day: torch.Tensor, night: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Adversarial + cycle + identity losses of both generators, and their outputs."""
        cfg, nets = self.cfg, self.nets
        fake_night = nets['G_day2night'](day)
        fake_day = nets['G_night2day'](night)
        out = {'fake_night': fake_night, 'fake_day': fake_day,
               'rec_day': nets['G_night2day'](fake_night),
               'rec_night': nets['G_day2night'](fake_day)}
        out['gan_day2night'] = _lsgan(nets['D_night'](fake_night), True)
        out['gan_night2day'] = _lsgan(nets['D_day'](fake_day), True)
        out['cycle_day'] = F.l1_loss(out['rec_day'].float(), day) * cfg.lambda_cycle
        out['cycle_night'] = F.l1_loss(out['rec_night'].float(), night) * cfg.lambda_cycle
        weight = cfg.lambda_cycle * cfg.lambda_identity
        if weight > 0:
            out['idt_night'] = F.l1_loss(nets['G_day2night'](night).float(), night) * weight
            out['idt_day'] = F.l1_loss(nets['G_night2day'](day).float(), day) * weight
        return out

    def discriminator_loss(self, name: str, real: torch.Tensor,
                           fake: torch.Tensor) -> torch.Tensor:
        disc = self.nets[f'D_{name}']
        fake = self.history[name].query(fake.detach())
        return 0.5 * (_lsgan(disc(real), True) + _lsgan(disc(fake), False))

    def train_step(self, batch: dict) -> Dict[str, float]:
        """One step: generators first (discriminators frozen), then both discriminators."""
        day = batch['day'].to(self.device, non_blocking=True)
        night = batch['night'].to(self.device, non_blocking=True)
        discriminators = [self.nets['D_night'], self.nets['D_day']]
        for d in discriminators:
            d.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        with self._autocast():
            out = self.generator_loss(day, night)
            loss_G = sum(v for v in out.values() if v.dim() == 0)
        self.scaler.scale(loss_G).backward()
        self.scaler.step(self.opt_G)
        for d in discriminators:
            d.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        with self._autocast():
            out['D_night'] = self.discriminator_loss('night', night, out['fake_night'])
            out['D_day'] = self.discriminator_loss('day', day, out['fake_day'])
        self.scaler.scale(out['D_night'] + out['D_day']).backward()
        self.scaler.step(self.opt_D)
        self.scaler.update()
        self.sched_G.step()
        self.sched_D.step()
        self.step += 1
        self.last = {k: out[k] for k in ('fake_night', 'fake_day', 'rec_day', 'rec_night')}
        self.last.update(day=day, night=night)
        return {k: float(v.detach()) for k, v in out.items() if v.dim() == 0}

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        rng = {'torch': torch.get_rng_state()}
        if torch.cuda.is_available():
            rng['cuda'] = torch.cuda.get_rng_state_all()
        return {'format': CHECKPOINT_FORMAT, 'config': asdict(self.cfg), 'step': self.step,
                'data': {'day': len(self.dataset.day), 'night': len(self.dataset.night)},
                'nets': self.nets.state_dict(), 'opt_G': self.opt_G.state_dict(),
                'opt_D': self.opt_D.state_dict(), 'sched_G': self.sched_G.state_dict(),
                'sched_D': self.sched_D.state_dict(), 'scaler': self.scaler.state_dict(),
                'history': {k: h.state_dict() for k, h in self.history.items()}, 'rng': rng}

    def load_state_dict(self, state: dict) -> None:
        fmt = state.get('format') if isinstance(state, dict) else type(state).__name__
        if fmt != CHECKPOINT_FORMAT:
            raise UserValueError(f'not a CycleGAN training checkpoint (format {fmt!r})')
        changed = [f.name for f in fields(self.cfg) if f.name not in RESUMABLE_CHANGES
                   and state['config'].get(f.name) != getattr(self.cfg, f.name)]
        if changed:
            raise UserValueError(f'cannot resume: settings changed since the checkpoint: '
                                 f'{changed}')
        counts = {'day': len(self.dataset.day), 'night': len(self.dataset.night)}
        if state['data'] != counts:
            raise UserValueError(f'cannot resume: image counts changed from {state["data"]} '
                                 f'to {counts}')
        self.nets.load_state_dict(state['nets'])
        for name in ('opt_G', 'opt_D', 'sched_G', 'sched_D', 'scaler'):
            getattr(self, name).load_state_dict(state[name])
        for name, history in self.history.items():
            history.load_state_dict(state['history'][name], self.device)
        torch.set_rng_state(state['rng']['torch'])
        if 'cuda' in state['rng'] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['rng']['cuda'])
        self.step = state['step']

    def save(self) -> Path:
        path = self.out / CHECKPOINT
        save_torch_atomic(path, self.state_dict())
        return path

    def resume(self) -> bool:
        """Load `out/checkpoints/latest.pt` if there is one; tell whether it did."""
        path = self.out / CHECKPOINT
        if not path.exists():
            return False
        self.load_state_dict(load_torch_file(path, KIND, map_location=self.device))
        LOGGER.info('resumed %s at step %d', path, self.step)
        return True

    def export_generator(self) -> Path:
        """Write the day->night generator alone (what `translate` needs), atomically."""
        path = self.out / GENERATOR
        save_torch_atomic(path, {'format': GENERATOR_FORMAT, 'config': asdict(self.cfg),
                                 'step': self.step,
                                 'generator': self.nets['G_day2night'].state_dict()})
        return path

    # ---------------------------------------------------------------- the loop
    def batches(self, epoch: int, start: int):
        """Batches of `epoch` from step `start` within it (the order is resumable)."""
        plan = epoch_plan(self.cfg.seed, epoch, len(self.dataset.day), len(self.dataset.night),
                          self.steps_per_epoch * self.cfg.batch_size)
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=self.cfg.batch_size,
            sampler=plan[start * self.cfg.batch_size:], num_workers=self.cfg.num_workers,
            pin_memory=self.device.type == 'cuda')

    def fit(self) -> List[Dict[str, float]]:
        """Train until the last epoch (or `max_steps`); return the losses of the steps run."""
        from torch.utils.tensorboard import SummaryWriter
        self.resume()
        self.nets.train()
        write_text_atomic(self.out / 'config.json', json.dumps(asdict(self.cfg), indent=1) + '\n')
        end = self.total_steps if self.cfg.max_steps is None else min(self.total_steps,
                                                                      self.cfg.max_steps)
        history: List[Dict[str, float]] = []
        writer = SummaryWriter(str(self.out / 'tensorboard'), purge_step=self.step)
        bar = tqdm(total=end, initial=self.step, desc='cyclegan', unit='step', dynamic_ncols=True)
        try:
            while self.step < end:
                epoch, start = divmod(self.step, self.steps_per_epoch)
                for batch in self.batches(epoch, start):
                    losses = self.train_step(batch)
                    history.append(losses)
                    self.log(writer, losses, bar)
                    epoch_end = self.step % self.steps_per_epoch == 0
                    if epoch_end or self.step % self.cfg.save_every == 0 or self.step == end:
                        self.save()
                    if self.step >= end:
                        break
        finally:
            bar.close()
            writer.close()
        return history

    def log(self, writer, losses: Dict[str, float], bar) -> None:
        bar.update(1)
        bar.set_postfix(cycle=f'{losses["cycle_day"] + losses["cycle_night"]:.3f}',
                        D=f'{losses["D_night"] + losses["D_day"]:.3f}', refresh=False)
        if self.step % self.cfg.log_every == 0:
            for name, value in losses.items():
                writer.add_scalar(f'loss/{name}', value, self.step)
            writer.add_scalar('lr', self.opt_G.param_groups[0]['lr'], self.step)
        if self.step % self.cfg.sample_every == 0 or self.step % self.steps_per_epoch == 0:
            last = {k: (v[0].detach().float().cpu() + 1) / 2 for k, v in self.last.items()}
            writer.add_image('day|fake_night|rec_day', torch.cat(
                [last['day'], last['fake_night'], last['rec_day']], 2).clamp(0, 1), self.step)
            writer.add_image('night|fake_day|rec_night', torch.cat(
                [last['night'], last['fake_day'], last['rec_night']], 2).clamp(0, 1), self.step)


def train_cyclegan(cfg: CycleGANConfig) -> Path:
    """Train (resuming from `cfg.out` if a checkpoint is there); return the generator file."""
    trainer = CycleGANTrainer(cfg)
    trainer.fit()
    return trainer.export_generator()
