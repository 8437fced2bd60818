# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The training objectives for one batch: full ADDS, and the Monodepth2 baseline.

Batch format (all images RGB in [0, 1], Bx3xHxW, H and W multiples of 32):
- `batch[domain][frame_id]` for domain 'day' / 'night' and frame ids 0, -1, 1: the frames the
  photometric loss compares (not colour-augmented). Night frame i is the fake-night twin of day
  frame i.
- `batch[domain + '_aug'][frame_id]` (optional, defaults to the above): the colour-augmented
  frames the networks see; also the reconstruction target.
- `batch['K']`, `batch['inv_K']`: Bx4x4 pixel intrinsics at scale 0 and their inverse.

The networks know only tensors; `Objective` is the one module that runs them on a batch and
returns the loss terms. The trainer (wrapped in DistributedDataParallel) and the training-step
benchmark both call it.
"""

from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from .config import DOMAIN_BATCHES, MODES, TWIN_POSES
from .geometry import backproject, disp_to_depth, full_precision, pose_vec_to_mat, project
from .losses import (cosine_orthogonality, difference_loss, gram_matrix, LossWeights,
                     orthogonality_loss, photometric_error, reconstruction_loss,
                     reprojection_loss, similarity_loss, smoothness_loss)
from .networks.adds import ADDSModel, check_domain, DOMAINS

FRAME_IDS = (0, -1, 1)
SOURCE_IDS = (-1, 1)
Frames = Mapping[int, torch.Tensor]
# Gradient-norm groups: one per loss term of the paper (photometric = view synthesis minus its
# smoothness part, which `parts` records).
TERM_GROUPS = ('photometric', 'smoothness', 'reconstruction', 'similarity',
               'orthogonality_code', 'orthogonality_gram')


def _frames(batch: Mapping, key: str) -> Frames:
    if key not in batch:
        raise KeyError(f"batch has no {key!r} frames (keys: {sorted(map(str, batch))})")
    frames = batch[key]
    missing = [f for f in FRAME_IDS if f not in frames]
    if missing:
        raise KeyError(f'batch[{key!r}] lacks frame ids {missing}')
    return frames


def _network_frames(batch: Mapping, domain: str) -> Frames:
    """Return the frames the networks see: the colour-augmented ones where given."""
    return _frames(batch, f'{domain}_aug' if f'{domain}_aug' in batch else domain)


def check_domain_batch(domain_batch: str) -> str:
    """Return `domain_batch` if it is one of `DOMAIN_BATCHES`, else raise ValueError."""
    if domain_batch not in DOMAIN_BATCHES:
        raise ValueError(f'domain_batch must be one of {DOMAIN_BATCHES}, got {domain_batch!r}')
    return domain_batch


def shared_features(model: ADDSModel, batch: Mapping, domains: Sequence[str],
                    domain_batch: str = 'separate') -> Dict[str, List[torch.Tensor]]:
    """Return the shared encoder's features of each domain's target frame (5 levels each).

    'separate' (the reference) runs one forward per domain, so BatchNorm normalises day and
    night with their own batch statistics in training, but with the running mix of both at
    test time; 'joint' runs one forward on all domains together, so training normalises with
    the same mix that test time uses (docs/model.md, "Domain batches").
    """
    images = [_network_frames(batch, domain)[0] for domain in domains]
    if check_domain_batch(domain_batch) == 'separate' or len(domains) == 1:
        return {d: model.invariant_features(x, d) for d, x in zip(domains, images)}
    if model.invariant.per_domain:
        raise ValueError("domain_batch='joint' needs the shared stem: a per-domain stem "
                         'cannot run day and night in one forward')
    sizes = [x.shape[0] for x in images]
    levels = [level.split(sizes) for level in model.invariant_features(torch.cat(images))]
    return {d: [level[i] for level in levels] for i, d in enumerate(domains)}


def source_transforms(model: ADDSModel, frames_aug: Frames) -> Dict[int, torch.Tensor]:
    """Target->source camera transform per source frame; pose input always in time order."""
    transforms = {}
    for fid in SOURCE_IDS:
        pair = (frames_aug[fid], frames_aug[0]) if fid < 0 else (frames_aug[0], frames_aug[fid])
        axisangle, translation = model.pose(*pair)
        with full_precision(axisangle):
            transforms[fid] = pose_vec_to_mat(axisangle.float(), translation.float(),
                                              invert=fid < 0)
    return transforms


@torch.no_grad()
def translation_to_depth(model: ADDSModel, batch: Mapping, min_depth: float,
                         max_depth: float) -> float:
    """Median over the batch of |t| (frame 0 -> +1) / the median predicted depth of frame 0.

    Scale-free (depth and motion scaled together keep it), so every correct solution on one
    dataset has about the same value. A run that explains the frames' change with too little
    motion for its depth has stalled: on the synthetic world 0.045-0.061 in every run that
    learned, 0.015-0.037 in those that did not (docs/results.md, "Why runs stall"). Uses the
    day frames where the batch has them.
    """
    domain = 'day' if 'day' in batch else 'night'
    frames = _frames(batch, domain)
    _, translation = model.pose(frames[0], frames[1])
    disp = model.depth(model.invariant_features(frames[0], domain))[0]
    _, depth = disp_to_depth(disp.float(), min_depth, max_depth)
    ratio = translation.float().flatten(1).norm(dim=1) / depth.flatten(1).median(dim=1).values
    return float(ratio.median())


def sampling_grid(depth: torch.Tensor, k: torch.Tensor, inv_k: torch.Tensor,
                  t: torch.Tensor) -> torch.Tensor:
    """BxHxWx2 grid_sample grid of where target pixels land in the source, always in fp32.

    Under autocast the matmuls would run in bf16/fp16: 8 bits of mantissa put pixel
    coordinates ~0.5-8 px off at 512x256 (issue 19), so autocast is switched off here.
    """
    height, width = depth.shape[-2:]
    with full_precision(depth):
        return project(backproject(depth.float(), inv_k.float()), k.float(), t.float(),
                       height, width)


def warp(source: torch.Tensor, depth: torch.Tensor, k: torch.Tensor, inv_k: torch.Tensor,
         t: torch.Tensor) -> torch.Tensor:
    """Synthesise the target view by sampling `source` where target pixels land in it (fp32)."""
    grid = sampling_grid(depth, k, inv_k, t)
    with full_precision(source):
        return F.grid_sample(source.float(), grid, padding_mode='border', align_corners=True)


def view_synthesis_loss(frames: Frames, disps: List[torch.Tensor],
                        transforms: Mapping[int, torch.Tensor], k: torch.Tensor,
                        inv_k: torch.Tensor, weights: LossWeights, min_depth: float,
                        max_depth: float) -> Dict[str, torch.Tensor]:
    """Photometric (min over sources, auto-masked) and smoothness, each averaged over scales.

    Returns {'photometric', 'smoothness'} (smoothness already weighted, / 2**scale). The
    depth that drives the warp is computed from the disparity in fp32.
    """
    target = frames[0].float()
    size = target.shape[-2:]
    identity = [photometric_error(frames[f].float(), target, weights.ssim) for f in SOURCE_IDS]
    photometric = smooth = target.new_zeros(())
    for scale, disp in enumerate(disps):
        with full_precision(disp):
            full = F.interpolate(disp.float(), size, mode='bilinear', align_corners=False)
            _, depth = disp_to_depth(full, min_depth, max_depth)
            warped = [photometric_error(warp(frames[f], depth, k, inv_k, transforms[f]),
                                        target, weights.ssim) for f in SOURCE_IDS]
            photometric = photometric + reprojection_loss(warped, identity)
        image = F.interpolate(target, disp.shape[-2:], mode='area') if scale else target
        smooth = smooth + weights.smoothness * smoothness_loss(disp.float(), image) / 2 ** scale
    return {'photometric': photometric / len(disps), 'smoothness': smooth / len(disps)}


def _view_synthesis(terms: Dict[str, torch.Tensor], parts: Optional[Dict[str, torch.Tensor]],
                    domain: str, losses: Mapping[str, torch.Tensor]) -> None:
    """Store photometric + smoothness as `view_synthesis/<domain>`; `parts` gets smoothness."""
    terms[f'view_synthesis/{domain}'] = losses['photometric'] + losses['smoothness']
    if parts is not None:
        parts[f'smoothness/{domain}'] = losses['smoothness']


def compute_monodepth2_losses(model: ADDSModel, batch: Mapping,
                              weights: Optional[LossWeights] = None, domain: str = 'day',
                              min_depth: float = 0.1, max_depth: float = 100.0,
                              parts: Optional[Dict[str, torch.Tensor]] = None,
                              view_synthesis: Callable = view_synthesis_loss,
                              features: Optional[List[torch.Tensor]] = None,
                              transforms: Optional[Mapping[int, torch.Tensor]] = None
                              ) -> Dict[str, torch.Tensor]:
    """Compute the Monodepth2 baseline on one domain: {'view_synthesis/<domain>', 'loss'}.

    `parts`, if given, receives `smoothness/<domain>` (the share of view synthesis that is
    smoothness), for per-term gradient norms. `view_synthesis` is `view_synthesis_loss` or its
    compiled twin (`Objective(compile_losses=True)`). `features`: the domain's shared-encoder
    features if already computed (`shared_features`). `transforms`: the source transforms to
    warp with (default: predicted from this domain's frames).
    """
    weights = weights or LossWeights()
    frames = _frames(batch, domain)
    frames_aug = _network_frames(batch, domain)
    if features is None:
        features = shared_features(model, batch, (domain,))[domain]
    disps = model.depth(features)
    if transforms is None:
        transforms = source_transforms(model, frames_aug)
    terms: Dict[str, torch.Tensor] = {}
    _view_synthesis(terms, parts, domain, view_synthesis(
        frames, disps, transforms, batch['K'], batch['inv_K'], weights, min_depth, max_depth))
    terms['loss'] = terms[f'view_synthesis/{domain}']
    return terms


def compute_adds_losses(model: ADDSModel, batch: Mapping, weights: Optional[LossWeights] = None,
                        min_depth: float = 0.1, max_depth: float = 100.0,
                        parts: Optional[Dict[str, torch.Tensor]] = None,
                        view_synthesis: Callable = view_synthesis_loss,
                        domain_batch: str = 'separate', aux_scale: float = 1.0
                        ) -> Dict[str, torch.Tensor]:
    """Compute the full ADDS objective; every entry is already weighted and 'loss' is their sum.

    Each domain is processed with its own frames (the day branch uses the day frames). The
    camera motion is predicted once, from the day frames, and serves both domains: a fake-night
    twin has exactly the day frame's geometry. `weights` also picks each term's formulation
    (`LossWeights.balance`); `parts` and `view_synthesis` as in the baseline; `domain_batch` as
    in `shared_features`. `aux_scale` multiplies every term but view synthesis (a ramp).
    """
    weights = weights or LossWeights()
    terms: Dict[str, torch.Tensor] = {}
    day_night_disp = {}
    transforms = source_transforms(model, _network_frames(batch, 'day'))
    shared = shared_features(model, batch, DOMAINS, domain_batch)
    for domain in DOMAINS:
        frames = _frames(batch, domain)
        frames_aug = _network_frames(batch, domain)
        features = shared[domain]
        disps = model.depth(features)
        day_night_disp[domain] = disps[0]
        _view_synthesis(terms, parts, domain, view_synthesis(
            frames, disps, transforms, batch['K'], batch['inv_K'], weights, min_depth,
            max_depth))
        private4, invariant4 = model.private_features(frames_aug[0], domain), features[-1]
        terms[f'reconstruction/{domain}'] = reconstruction_loss(
            model.reconstruct(private4, invariant4).float(), frames_aug[0].float(),
            weights.reconstruction_mse, weights.reconstruction_simse)
        private_code, invariant_code = model.codes(private4, invariant4, domain)
        code = difference_loss if weights.code_form == 'dsn' else orthogonality_loss
        gram = cosine_orthogonality if weights.gram_form == 'cosine' else orthogonality_loss
        with full_precision(private4):  # Gram and correlation matmuls: fp32, not bf16
            terms[f'orthogonality_code/{domain}'] = (
                weights.orthogonality_code * code(private_code.float(), invariant_code.float()))
            terms[f'orthogonality_gram/{domain}'] = weights.orthogonality_gram * gram(
                gram_matrix(private4.float()), gram_matrix(invariant4.float()))
    terms['similarity'] = weights.similarity * similarity_loss(
        day_night_disp['night'].float(), day_night_disp['day'].float(), weights.similarity_form)
    if aux_scale != 1.0:
        terms.update({k: aux_scale * v for k, v in terms.items()
                      if not k.startswith('view_synthesis/')})
    terms['loss'] = torch.stack([v.float() for v in terms.values()]).sum()
    return terms


class Objective(nn.Module):
    """The whole training loss of a batch as one module: `mode` 'adds' or 'monodepth2'.

    DistributedDataParallel syncs the gradients of what one forward used, so every network call
    of a step happens inside `forward`. The baseline trains on `baseline_domains` (fake nights
    are just more images there); ADDS always uses both domains.

    `compile_losses` runs view synthesis (warp, SSIM, L1, minimum, smoothness: dozens of
    elementwise operations per scale and source) through `torch.compile`, which fuses them
    into a few kernels: 2.1x faster on a CPU core (docs/benchmarks.md). The first step
    compiles (about a minute on a CPU); shapes are static, so a new input size recompiles.
    `domain_batch` ('separate' | 'joint'): see `shared_features`. `twin_pose` ('own' | 'day'):
    whose predicted motion warps the baseline's night twins (TrainConfig.twin_pose).
    `aux_scale` (set by the trainer each step) scales ADDS's auxiliary terms (a ramp).
    """

    def __init__(self, model: ADDSModel, mode: str = 'adds', weights: Optional[LossWeights] = None,
                 min_depth: float = 0.1, max_depth: float = 100.0,
                 baseline_domains: Sequence[str] = ('day',), compile_losses: bool = False,
                 domain_batch: str = 'separate', twin_pose: str = 'own') -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.model = model
        self.mode = mode
        self.weights = weights or LossWeights()
        self.depth_range = dict(min_depth=min_depth, max_depth=max_depth)
        self.domains = tuple(check_domain(d) for d in baseline_domains)
        if not self.domains:
            raise ValueError('baseline_domains is empty: name at least one domain')
        self.domain_batch = check_domain_batch(domain_batch)
        if twin_pose not in TWIN_POSES:
            raise ValueError(f'twin_pose must be one of {TWIN_POSES}, got {twin_pose!r}')
        self.twin_pose = twin_pose
        self.aux_scale = 1.0
        self.view_synthesis = (torch.compile(view_synthesis_loss, dynamic=False)
                               if compile_losses else view_synthesis_loss)

    def forward(self, batch: Mapping,
                parts: Optional[Dict[str, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
        """Loss terms of one batch; `parts` (optional) receives the smoothness shares."""
        if self.mode == 'adds':
            return compute_adds_losses(self.model, batch, self.weights, parts=parts,
                                       view_synthesis=self.view_synthesis,
                                       domain_batch=self.domain_batch,
                                       aux_scale=self.aux_scale, **self.depth_range)
        terms: Dict[str, torch.Tensor] = {}
        shared = shared_features(self.model, batch, self.domains, self.domain_batch)
        transforms = (source_transforms(self.model, _network_frames(batch, 'day'))
                      if self.twin_pose == 'day' and 'day' in self.domains else None)
        for domain in self.domains:
            terms.update(compute_monodepth2_losses(self.model, batch, self.weights, domain,
                                                   parts=parts, view_synthesis=self.view_synthesis,
                                                   features=shared[domain],
                                                   transforms=transforms, **self.depth_range))
        terms['loss'] = torch.stack([terms[f'view_synthesis/{d}'] for d in self.domains]).sum()
        return terms


def group_terms(terms: Mapping[str, torch.Tensor],
                parts: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Sum the weighted terms into `TERM_GROUPS` (both domains together); absent ones omitted."""
    groups: Dict[str, torch.Tensor] = {}
    for key, value in list(terms.items()) + list(parts.items()):
        name = key.split('/')[0]
        name = 'photometric' if name == 'view_synthesis' else name
        if name in TERM_GROUPS:
            groups[name] = groups[name] + value if name in groups else value
    if 'photometric' in groups and 'smoothness' in groups:
        groups['photometric'] = groups['photometric'] - groups['smoothness']
    return groups


def term_gradient_norms(terms: Mapping[str, torch.Tensor], parts: Mapping[str, torch.Tensor],
                        parameters: Iterable[torch.nn.Parameter]) -> Dict[str, float]:
    """L2 norm of each term group's gradient on `parameters` (the shared encoder's).

    One extra backward pass per group, through the graph of the step (kept with
    retain_graph), so the trainer does it only every `grad_norm_every` steps.
    """
    params = [p for p in parameters if p.requires_grad]
    norms = {}
    for name, value in group_terms(terms, parts).items():
        if not value.requires_grad:
            norms[name] = 0.0
            continue
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        squares = [g.float().pow(2).sum() for g in grads if g is not None]
        norms[name] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    return norms
