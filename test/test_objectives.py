# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The objectives on worlds with a known answer: pose direction, depth, gradients, weights.

A textured fronto-parallel plane seen by a camera sliding sideways has an exact warp, so the
view-synthesis loss must vanish at the true depth and motion, grow away from them, and send
its gradient to the depth and pose networks. Each test was seen to fail with the bug it names
(depth detached from the warp, pose inversion flipped, a loss weight ignored).
"""

import cv2
import numpy as np
import pytest
import torch

from adds_training.geometry import pixel_intrinsics
from adds_training.losses import LossWeights, similarity_loss
from adds_training.networks import ADDSModel
from adds_training.objectives import (compute_adds_losses, compute_monodepth2_losses,
                                      group_terms, Objective, shared_features,
                                      source_transforms, TERM_GROUPS, term_gradient_norms,
                                      translation_to_depth, view_synthesis_loss)

HEIGHT, WIDTH = 32, 64
DEPTH, BASELINE = 10.0, 0.25          # plane depth, camera motion per frame (to the right)
MIN_DEPTH, MAX_DEPTH = 0.1, 100.0
K_NORM = torch.tensor([[0.6, 0, 0.5], [0, 1.2, 0.5], [0, 0, 1.0]])


def _plane_world():
    """Frames -1, 0, 1 of a plane at DEPTH; the camera moves BASELINE to the right per frame.

    A point at pixel u of frame t sits at u - t·s in frame 0 with s = fx·BASELINE/DEPTH, so
    frame t is the texture read t·s pixels further right.
    """
    k = pixel_intrinsics(K_NORM, WIDTH, HEIGHT).unsqueeze(0)
    shift = float(k[0, 0, 0]) * BASELINE / DEPTH          # 0.6 * 64 * 0.025 = 0.96 px
    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.random((HEIGHT // 4, WIDTH // 2, 3)).astype(np.float32),
                         (2 * WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    frames = {}
    for t in (-1, 0, 1):
        xs = np.arange(WIDTH, dtype=np.float32) + WIDTH / 2 + t * shift
        rows = np.repeat(np.arange(HEIGHT, dtype=np.float32)[:, None], WIDTH, 1)
        image = cv2.remap(texture, np.repeat(xs[None], HEIGHT, 0), rows, cv2.INTER_CUBIC)
        frames[t] = torch.from_numpy(image).permute(2, 0, 1)[None].clamp(0, 1)
    return frames, k, torch.linalg.inv(k)


class SlidingCamera(torch.nn.Module):
    """A pose network that knows the motion: points of frame a move BASELINE left in frame b."""

    def pose(self, frame_a, frame_b):
        batch = frame_a.shape[0]
        return torch.zeros(batch, 3), torch.tensor([[-BASELINE, 0.0, 0.0]]).expand(batch, 3)


def _disps(depth: float, requires_grad: bool = False):
    """Sigmoid disparities that decode to `depth` at scales 0..3."""
    value = (1 / depth - 1 / MAX_DEPTH) / (1 / MIN_DEPTH - 1 / MAX_DEPTH)
    return [torch.full((1, 1, HEIGHT // 2 ** s, WIDTH // 2 ** s), value,
                       requires_grad=requires_grad) for s in range(4)]


def _photometric(frames, k, inv_k, disps, transforms):
    weights = LossWeights(smoothness=0.0)
    return view_synthesis_loss(frames, disps, transforms, k, inv_k, weights, MIN_DEPTH,
                               MAX_DEPTH)['photometric']


def test_target_to_source_transforms_follow_time_order():
    frames, k, inv_k = _plane_world()
    transforms = source_transforms(SlidingCamera(), frames)
    # source +1: pose(0 -> 1) as predicted; source -1: pose(-1 -> 0) inverted
    assert torch.allclose(transforms[1][0, :3, 3], torch.tensor([-BASELINE, 0, 0]))
    assert torch.allclose(transforms[-1][0, :3, 3], torch.tensor([BASELINE, 0, 0]))


def test_view_synthesis_vanishes_at_the_true_depth_and_motion():
    frames, k, inv_k = _plane_world()
    transforms = source_transforms(SlidingCamera(), frames)
    true = float(_photometric(frames, k, inv_k, _disps(DEPTH), transforms))
    near = float(_photometric(frames, k, inv_k, _disps(DEPTH / 3), transforms))
    far = float(_photometric(frames, k, inv_k, _disps(DEPTH * 3), transforms))
    static = float(_photometric(frames, k, inv_k, _disps(DEPTH),
                                {f: torch.eye(4)[None] for f in (-1, 1)}))
    assert true < 0.2 * min(near, far, static), (true, near, far, static)
    backwards = {f: torch.linalg.inv(t) for f, t in transforms.items()}  # inversion flipped
    assert true < 0.2 * float(_photometric(frames, k, inv_k, _disps(DEPTH), backwards))


@pytest.mark.parametrize('factor, sign', [(3.0, -1), (1 / 3, 1)])
def test_photometric_gradient_moves_disparity_towards_the_truth(factor, sign):
    frames, k, inv_k = _plane_world()
    disps = _disps(DEPTH * factor, requires_grad=True)
    _photometric(frames, k, inv_k, disps, source_transforms(SlidingCamera(), frames)).backward()
    # too far (x3): the disparity must grow (negative gradient); too near: shrink
    assert sign * float(disps[0].grad.sum()) > 0


def _batch(height=64, width=64, batch=1):
    torch.manual_seed(0)
    frames = {d: {f: torch.rand(batch, 3, height, width) for f in (0, -1, 1)}
              for d in ('day', 'night')}
    k = pixel_intrinsics(K_NORM, width, height).expand(batch, 4, 4)
    return {**frames, 'K': k, 'inv_K': torch.linalg.inv(k)}


def _value(tensor: torch.Tensor) -> float:
    return float(tensor.detach())


def _grad_norm(loss, module) -> float:
    grads = torch.autograd.grad(loss, list(module.parameters()), retain_graph=True,
                                allow_unused=True)
    return float(sum(g.pow(2).sum() for g in grads if g is not None)) ** 0.5


def test_depth_and_pose_networks_get_photometric_gradient():
    torch.manual_seed(0)
    model = ADDSModel()
    loss = compute_monodepth2_losses(model, _batch(), LossWeights(smoothness=0.0))['loss']
    for name in ('depth_decoder', 'invariant', 'pose_encoder', 'pose_decoder'):
        assert _grad_norm(loss, getattr(model, name)) > 0, name


def test_translation_to_depth_is_the_median_motion_over_median_depth(monkeypatch):
    # Three samples: |t| 0.5 over a median depth of 5, 1 over 4, 3 over 10; 40 % of each map is
    # far (50 m), so a mean depth would be far off. Median of (0.1, 0.25, 0.3): 0.25.
    model, batch = ADDSModel(), _batch(batch=3)
    seen = {}

    def pose(frame_a, frame_b):
        seen['pair'] = (frame_a, frame_b)
        return torch.zeros(3, 3), torch.tensor([[0.3, 0.4, 0.0], [0.0, 0.0, 1.0],
                                                [0.0, 3.0, 0.0]])

    def depth(features):
        near = torch.cat([_disps(5.0)[0], _disps(4.0)[0], _disps(10.0)[0]])
        near[:, :, :, :int(0.4 * WIDTH)] = _disps(50.0)[0][0, 0, 0, 0]
        return [near]

    monkeypatch.setattr(model, 'pose', pose)
    monkeypatch.setattr(model, 'depth', depth)
    assert translation_to_depth(model, batch, MIN_DEPTH, MAX_DEPTH) == pytest.approx(0.25)
    assert seen['pair'][0] is batch['day'][0] and seen['pair'][1] is batch['day'][1]


def test_every_weight_scales_its_term():
    torch.manual_seed(0)
    model = ADDSModel()
    batch = _batch()
    torch.manual_seed(1)
    one = compute_adds_losses(model, batch, LossWeights(similarity=1.0, orthogonality_code=1.0,
                                                        orthogonality_gram=1.0))
    three = dict(similarity=3.0, orthogonality_code=3.0, orthogonality_gram=3.0,
                 reconstruction_mse=3.0, reconstruction_simse=3.0)
    torch.manual_seed(1)
    tripled = compute_adds_losses(model, batch, LossWeights(**three))
    for key in ('similarity', 'orthogonality_code/day', 'orthogonality_gram/night',
                'reconstruction/day'):
        assert _value(tripled[key]) == pytest.approx(3 * _value(one[key]), rel=1e-4), key
    assert _value(one['similarity']) > 0
    torch.manual_seed(1)
    off = compute_adds_losses(model, batch, LossWeights(similarity=0.0))
    assert _value(off['similarity']) == 0.0


def test_normalised_balance_uses_the_scale_free_forms():
    torch.manual_seed(0)
    model = ADDSModel()
    batch = _batch()
    weights = LossWeights(balance='normalised', orthogonality_gram=1.0, orthogonality_code=1.0)
    terms = compute_adds_losses(model, batch, weights)
    for key in ('orthogonality_code/day', 'orthogonality_gram/day', 'orthogonality_code/night'):
        assert 0 < _value(terms[key]) <= 1, key
    disps = {d: model.depth(model.invariant_features(batch[d][0], d))[0] for d in
             ('day', 'night')}
    assert _value(terms['similarity']) == pytest.approx(weights.similarity * _value(
        similarity_loss(disps['night'], disps['day'], 'scale_free')), rel=1e-4)


def test_term_gradient_norms_on_the_shared_encoder():
    torch.manual_seed(0)
    model = ADDSModel()
    parts = {}
    terms = compute_adds_losses(model, _batch(), parts=parts)
    assert set(parts) == {'smoothness/day', 'smoothness/night'}
    groups = group_terms(terms, parts)
    assert set(groups) == set(TERM_GROUPS)
    # photometric + smoothness = both view-synthesis terms
    assert _value(groups['photometric'] + groups['smoothness']) == pytest.approx(
        _value(terms['view_synthesis/day'] + terms['view_synthesis/night']), rel=1e-5)
    norms = term_gradient_norms(terms, parts, model.invariant.parameters())
    assert set(norms) == set(TERM_GROUPS) and all(v > 0 for v in norms.values()), norms
    assert norms['similarity'] == pytest.approx(_grad_norm(terms['similarity'],
                                                           model.invariant), rel=1e-4)


def _lit_batch():
    """A day batch and a night twin with other image statistics (dark, low contrast)."""
    batch = _batch(batch=2)
    batch['night'] = {f: 0.2 * x + 0.05 for f, x in batch['day'].items()}
    return batch


def test_joint_domain_batch_normalises_with_the_mix_test_time_uses():
    """'joint': one BatchNorm batch of day + night, the statistics the running mix holds at
    test time; 'separate' (the reference): each domain its own batch statistics."""
    torch.manual_seed(0)
    model = ADDSModel()
    batch = _lit_batch()
    images = torch.cat([batch['day'][0], batch['night'][0]])
    together = model.invariant_features(images)
    joint = shared_features(model, batch, ('day', 'night'), 'joint')
    separate = shared_features(model, batch, ('day', 'night'), 'separate')
    for level, (d, n) in enumerate(zip(joint['day'], joint['night'])):
        torch.testing.assert_close(torch.cat([d, n]), together[level])
        torch.testing.assert_close(separate['day'][level],
                                   model.invariant_features(batch['day'][0])[level])
    # the night statistics move the day features only when the domains share a batch
    assert not torch.allclose(joint['day'][-1], separate['day'][-1], atol=1e-3)
    with pytest.raises(ValueError, match='domain_batch must be one of'):
        shared_features(model, batch, ('day', 'night'), 'mixed')


@pytest.mark.parametrize('mode', ['adds', 'monodepth2'])
def test_objective_domain_batch_reaches_the_shared_encoder(mode, monkeypatch):
    """Objective(domain_batch='joint') runs the shared encoder once on both domains."""
    torch.manual_seed(0)
    model = ADDSModel()
    sizes = []
    real = ADDSModel.invariant_features

    def record(self, x, domain='day'):
        sizes.append(x.shape[0])
        return real(self, x, domain)

    monkeypatch.setattr(ADDSModel, 'invariant_features', record)
    domains = ('day', 'night')
    for domain_batch, expected in (('separate', [2, 2]), ('joint', [4])):
        sizes.clear()
        terms = Objective(model, mode, baseline_domains=domains,
                          domain_batch=domain_batch)(_lit_batch())
        assert sizes == expected and torch.isfinite(terms['loss']), (domain_batch, sizes)


def test_joint_domain_batch_refuses_a_per_domain_stem():
    from adds_training.networks import ModelConfig

    model = ADDSModel(ModelConfig(stem='per_domain'))
    with pytest.raises(ValueError, match='per-domain stem'):
        shared_features(model, _lit_batch(), ('day', 'night'), 'joint')


@pytest.mark.slow
def test_compiled_view_synthesis_matches_eager_values_and_gradients():
    """Objective(compile_losses=True): same terms, same gradients, twice through one graph."""
    frames, k, inv_k = _plane_world()
    transforms = source_transforms(SlidingCamera(), frames)
    weights = LossWeights(smoothness=0.1)
    objective = Objective(ADDSModel(), compile_losses=True)
    assert objective.view_synthesis is not view_synthesis_loss
    results = []
    for function in (view_synthesis_loss, objective.view_synthesis):
        torch.manual_seed(0)   # one uneven scale: a short compile, a smoothness gradient
        disps = [(_disps(DEPTH * 2)[0] * (1 + 0.2 * torch.rand(1, 1, HEIGHT, WIDTH)))
                 .requires_grad_()]
        terms = function(frames, disps, transforms, k, inv_k, weights, MIN_DEPTH, MAX_DEPTH)
        # retain_graph as term_gradient_norms does: one backward per term through one graph
        grads = [torch.autograd.grad(terms[name], disps[0], retain_graph=True)[0]
                 for name in ('photometric', 'smoothness')]
        results.append(([_value(terms[n]) for n in ('photometric', 'smoothness')], grads))
    (eager, eager_grads), (compiled, compiled_grads) = results
    assert compiled == pytest.approx(eager, rel=1e-4)
    assert eager_grads[0].abs().sum() > 0 and eager_grads[1].abs().sum() > 0
    for ours, reference in zip(compiled_grads, eager_grads):
        torch.testing.assert_close(ours, reference, rtol=1e-3, atol=1e-6)
